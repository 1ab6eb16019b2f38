package dev.cdcfanout.stack;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Boots a real single-node Elasticsearch (HTTP via the Netty4 plugin) inside this JVM and keeps it
 * running until SIGTERM. Used by `npm run stack:up` (scripts/stack/elasticsearch.ts).
 *
 * Usage: java -cp 'stack/lib/elasticsearch/*' dev.cdcfanout.stack.ElasticsearchLauncher HOME HOST HTTP_PORT TRANSPORT_PORT
 * HOME gets data/ and logs/; security is off because x-pack is simply not on the classpath.
 */
public final class ElasticsearchLauncher {
    private ElasticsearchLauncher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: ElasticsearchLauncher HOME HOST HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        // ES logs through its own facade; bind it to Log4j (configured by -Dlog4j2.configurationFile).
        LogConfigurator.configureESLogging();
        Path home = Path.of(args[0]).toAbsolutePath();
        Path config = Files.createDirectories(home.resolve("config"));
        Settings settings = Settings.builder()
            .put("node.name", "cdc-fanout-stack")
            .put("cluster.name", "cdc-fanout")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", args[1])
            .put("http.port", args[2])
            .put("transport.port", args[3])
            .put("discovery.type", "single-node")
            .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
            .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
            // A dev box's disk may be fuller than the production watermarks; never go read-only over it.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.destructive_requires_name", false)
            .build();

        long started = System.nanoTime();
        Node node = new ClasspathNode(new Environment(settings, config), List.of(Netty4Plugin.class, RootInfoPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "es-launcher-shutdown"));
        node.start();
        System.out.printf("es-launcher: node started on http://%s:%s in %d ms%n", args[1], args[2],
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        stopped.await();
    }
}
