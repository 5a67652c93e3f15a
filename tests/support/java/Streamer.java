// Writes documents into a cache through Ignite's data streamer from a thick client node: a writer
// that, unlike a put, may raise no continuous-query event. Used by tests/support/streamer.py.
//
// args: <discovery host:port,...> <cache> <key prefix> <count> <allowOverwrite> <communication port>
// Each document is a map {"n": i, "by": "streamer"}.

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.ignite.Ignite;
import org.apache.ignite.IgniteDataStreamer;

public final class Streamer {
    public static void main(String[] args) {
        int count = Integer.parseInt(args[3]);
        try (Ignite ignite = ClientNode.start(args[0], Integer.parseInt(args[5]));
             IgniteDataStreamer<String, Map<String, Object>> streamer = ignite.dataStreamer(args[1])) {
            streamer.allowOverwrite(Boolean.parseBoolean(args[4]));
            for (int i = 0; i < count; i++) {
                Map<String, Object> doc = new LinkedHashMap<>();
                doc.put("n", i);
                doc.put("by", "streamer");
                streamer.addData(args[2] + i, doc);
            }
            streamer.flush();
        }
        System.out.println("streamed " + count);
    }
}
