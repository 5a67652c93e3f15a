// A thick client node joining a test cluster over loopback (tests/support/streamer.py).

import java.util.Arrays;

import org.apache.ignite.Ignite;
import org.apache.ignite.Ignition;
import org.apache.ignite.configuration.IgniteConfiguration;
import org.apache.ignite.spi.communication.tcp.TcpCommunicationSpi;
import org.apache.ignite.spi.discovery.tcp.TcpDiscoverySpi;
import org.apache.ignite.spi.discovery.tcp.ipfinder.vm.TcpDiscoveryVmIpFinder;

final class ClientNode {
    private ClientNode() {
    }

    /** Join the cluster whose discovery endpoints are {@code discovery} ("host:port,..."). */
    static Ignite start(String discovery, int communicationPort) {
        TcpDiscoveryVmIpFinder finder = new TcpDiscoveryVmIpFinder();
        finder.setAddresses(Arrays.asList(discovery.split(",")));
        TcpDiscoverySpi disco = new TcpDiscoverySpi();
        disco.setIpFinder(finder);
        disco.setLocalAddress("127.0.0.1");
        TcpCommunicationSpi comm = new TcpCommunicationSpi();
        comm.setLocalAddress("127.0.0.1");
        comm.setLocalPort(communicationPort);
        comm.setLocalPortRange(0);
        comm.setSharedMemoryPort(-1);
        return Ignition.start(new IgniteConfiguration()
            .setIgniteInstanceName("test-client-" + ProcessHandle.current().pid())
            .setClientMode(true)
            .setLocalHost("127.0.0.1")
            .setPeerClassLoadingEnabled(false)
            .setMetricsLogFrequency(0)
            .setDiscoverySpi(disco)
            .setCommunicationSpi(comm));
    }
}
