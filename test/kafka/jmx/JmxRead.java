import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Reads the "Value" attribute of Kafka gauge MBeans over remote JMX on 127.0.0.1, for the metric
 * tests (test/kafka/metrics.test.ts). JDK only (javax.management), so it needs no jar beyond the JDK.
 *
 *   java -cp DIR JmxRead PORT=OBJECT_NAME [PORT=OBJECT_NAME ...]
 *
 * prints one JSON array, one entry per argument in order: the value (a number, or a string for a
 * non-numeric or non-finite value), or null when that node has no such MBean registered. A node
 * that does not answer fails the whole read (exit status 1, the reason on stderr).
 */
public final class JmxRead {
  private JmxRead() {
  }

  public static void main(String[] args) throws Exception {
    Map<Integer, MBeanServerConnection> connections = new HashMap<>();
    List<JMXConnector> open = new ArrayList<>();
    StringBuilder out = new StringBuilder("[");
    try {
      for (int i = 0; i < args.length; i++) {
        int eq = args[i].indexOf('=');
        int port = Integer.parseInt(args[i].substring(0, eq));
        ObjectName name = new ObjectName(args[i].substring(eq + 1));
        MBeanServerConnection mbeans = connections.get(port);
        if (mbeans == null) {
          JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + port + "/jmxrmi"));
          open.add(connector);
          mbeans = connector.getMBeanServerConnection();
          connections.put(port, mbeans);
        }
        Object value;
        try {
          value = mbeans.getAttribute(name, "Value");
        } catch (InstanceNotFoundException e) {
          value = null;
        }
        if (i > 0) {
          out.append(',');
        }
        out.append(json(value));
      }
    } finally {
      for (JMXConnector connector : open) {
        try {
          connector.close();
        } catch (Exception e) {
          // closing is best effort: the values are read
        }
      }
    }
    System.out.println(out.append(']'));
  }

  private static String json(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Number && Double.isFinite(((Number) value).doubleValue())) {
      return value.toString();
    }
    return '"' + value.toString().replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
