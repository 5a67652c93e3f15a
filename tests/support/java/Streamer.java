// Writes documents into a cache through Ignite's data streamer from a thick client node: a writer
// that, unlike a put, may raise no continuous-query event. Used by tests/support/streamer.py.
//
// args: <discovery host:port,...> <cache> <key prefix> <count> <allowOverwrite> <communication port>
// Each document is a map {"n": i, "by": "streamer"}.

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.ignite.Ignite;
import org.apache.ignite.IgniteDataStreamer;
import org.apache.ignite.Ignition;
import org.apache.ignite.configuration.IgniteConfiguration;
import org.apache.ignite.spi.communication.tcp.TcpCommunicationSpi;
import org.apache.ignite.spi.discovery.tcp.TcpDiscoverySpi;
import org.apache.ignite.spi.discovery.tcp.ipfinder.vm.TcpDiscoveryVmIpFinder;

public final class Streamer {
    public static void main(String[] args) {
        TcpDiscoveryVmIpFinder finder = new TcpDiscoveryVmIpFinder();
        finder.setAddresses(Arrays.asList(args[0].split(",")));
        TcpDiscoverySpi discovery = new TcpDiscoverySpi();
        discovery.setIpFinder(finder);
        discovery.setLocalAddress("127.0.0.1");
        TcpCommunicationSpi communication = new TcpCommunicationSpi();
        communication.setLocalAddress("127.0.0.1");
        communication.setLocalPort(Integer.parseInt(args[5]));
        communication.setLocalPortRange(0);
        communication.setSharedMemoryPort(-1);
        IgniteConfiguration cfg = new IgniteConfiguration()
            .setIgniteInstanceName("streamer-" + ProcessHandle.current().pid())
            .setClientMode(true)
            .setLocalHost("127.0.0.1")
            .setPeerClassLoadingEnabled(false)
            .setMetricsLogFrequency(0)
            .setDiscoverySpi(discovery)
            .setCommunicationSpi(communication);
        int count = Integer.parseInt(args[3]);
        try (Ignite ignite = Ignition.start(cfg);
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
