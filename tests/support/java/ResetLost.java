// Marks the lost partitions of caches usable again (an operator's `control.sh --cache
// reset_lost_partitions`): their data is gone. args: <discovery> <communication port> <cache>...

import java.util.Arrays;
import java.util.List;

import org.apache.ignite.Ignite;

public final class ResetLost {
    public static void main(String[] args) {
        try (Ignite ignite = ClientNode.start(args[0], Integer.parseInt(args[1]))) {
            List<String> names = Arrays.asList(args).subList(2, args.length);
            for (String name : names) {
                ignite.cache(name); // a client node resets only caches it has started
            }
            ignite.resetLostPartitions(names);
        }
        System.out.println("reset");
    }
}
