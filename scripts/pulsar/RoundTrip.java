// Readiness probe for scripts/pulsar.sh: produces one message and consumes it back,
// so "ready" means the broker, its bookie and the metadata store all work.
// Run as a single-file program: java -cp "<pulsar lib>/*" RoundTrip.java <serviceUrl>
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;

public class RoundTrip {
    public static void main(String[] args) throws Exception {
        String serviceUrl = args.length > 0 ? args[0] : "pulsar://127.0.0.1:6650";
        String topic = "persistent://public/default/readiness-probe";
        String payload = "probe-" + UUID.randomUUID();
        try (PulsarClient client = PulsarClient.builder()
                .serviceUrl(serviceUrl)
                .operationTimeout(10, TimeUnit.SECONDS)
                .connectionTimeout(5, TimeUnit.SECONDS)
                .build();
             Consumer<byte[]> consumer = client.newConsumer()
                .topic(topic)
                .subscriptionName("readiness-probe")
                .subscriptionInitialPosition(SubscriptionInitialPosition.Latest)
                .subscribe();
             Producer<byte[]> producer = client.newProducer().topic(topic).create()) {
            producer.send(payload.getBytes(StandardCharsets.UTF_8));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                Message<byte[]> message = consumer.receive(1, TimeUnit.SECONDS);
                if (message == null) {
                    continue;
                }
                consumer.acknowledge(message);
                if (payload.equals(new String(message.getData(), StandardCharsets.UTF_8))) {
                    System.out.println("round trip ok");
                    return;
                }
            }
        }
        System.err.println("round trip failed: the message did not come back within 20 s");
        System.exit(1);
    }
}
