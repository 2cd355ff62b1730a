// The partition Apache Kafka's own Java producer gives each key (kafka-clients' BuiltInPartitioner, what the
// default partitioner uses for a keyed record): run in source-file mode by test/kafka/replay-topic.test.ts.
// stdin: the partition count on the first line, then one key per line as hex of its UTF-8 bytes; stdout: one partition per line.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;

public class ReplayJavaPartitioner {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    int partitions = Integer.parseInt(in.readLine().trim());
    StringBuilder out = new StringBuilder();
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      out.append(BuiltInPartitioner.partitionForKey(HexFormat.of().parseHex(line.trim()), partitions)).append('\n');
    }
    System.out.print(out);
  }
}
