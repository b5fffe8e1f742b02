/* tests/drivers/DateStyleJdbc.java — pgjdbc (Debian libpostgresql-jdbc-java), default settings,
 * against a PostgreSQL or a pglane: the driver sends DateStyle=ISO at login and requires it
 * (it closes the connection when a ParameterStatus says DateStyle no longer begins with ISO).
 * Every transaction must see the session a fresh direct connection would have:
 *   SHOW DateStyle                    -> ISO, MDY
 *   SELECT '03/05/2024'::date         -> 2024-03-05 (month/day order, ISO output)
 * checked with a plain Statement, a PreparedStatement run past the driver's prepareThreshold
 * (5, so it becomes a named server-side statement), in autocommit and in explicit transactions.
 *
 * Run: java -cp /usr/share/java/postgresql.jar DateStyleJdbc.java PORT [ROUNDS]
 * Output, last line: checks=N failed=F pids=P1,P2,... (the distinct backends seen).
 * Each failure is printed on a line starting with "FAIL". Exit status 0 when nothing failed. */
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.TreeSet;

public class DateStyleJdbc {
	static int checks = 0;
	static int failed = 0;
	static final TreeSet<Long> pids = new TreeSet<>();

	static void check(String what, String got, String want) {
		checks++;
		if (!want.equals(got)) {
			failed++;
			System.out.println("FAIL " + what + ": got " + got + ", want " + want);
		}
	}

	static void fail(String what, Exception e) {
		failed++;
		System.out.println("FAIL " + what + ": " + e.getClass().getSimpleName() + ": "
		                   + e.getMessage());
	}

	/* SHOW DateStyle, the date, the backend: with a Statement. */
	static void plain(Connection c, String where) throws SQLException {
		try (Statement st = c.createStatement()) {
			try (ResultSet rs = st.executeQuery("SHOW DateStyle")) {
				rs.next();
				check(where + " SHOW DateStyle", rs.getString(1), "ISO, MDY");
			}
			try (ResultSet rs = st.executeQuery(
			             "SELECT '03/05/2024'::date, pg_backend_pid()")) {
				rs.next();
				check(where + " '03/05/2024'::date", rs.getString(1), "2024-03-05");
				check(where + " '03/05/2024'::date as java.sql.Date",
				      rs.getDate(1).toLocalDate().toString(), "2024-03-05");
				pids.add(rs.getLong(2));
			}
		}
	}

	/* The same with a PreparedStatement, the date given as a text parameter. */
	static void prepared(PreparedStatement ps, String where) throws SQLException {
		ps.setString(1, "03/05/2024");
		try (ResultSet rs = ps.executeQuery()) {
			rs.next();
			check(where + " current_setting('DateStyle')", rs.getString(1), "ISO, MDY");
			check(where + " $1::date", rs.getString(2), "2024-03-05");
			pids.add(rs.getLong(3));
		}
	}

	public static void main(String[] args) throws Exception {
		int port = Integer.parseInt(args[0]);
		int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 8;
		Properties props = new Properties();
		props.setProperty("user", "postgres");
		String url = "jdbc:postgresql://127.0.0.1:" + port + "/postgres";
		try (Connection c = DriverManager.getConnection(url, props)) {
			PreparedStatement ps = c.prepareStatement(
			        "SELECT current_setting('DateStyle'), ?::text::date::text, "
			        + "pg_backend_pid()");
			for (int i = 0; i < rounds; i++) {
				String r = "round " + i;
				try {
					plain(c, r + " autocommit");
					prepared(ps, r + " autocommit prepared");
					c.setAutoCommit(false);
					plain(c, r + " transaction");
					prepared(ps, r + " transaction prepared");
					c.commit();
					c.setAutoCommit(true);
				} catch (SQLException e) {
					fail(r, e);
					if (c.isClosed())
						break;
					try {
						c.rollback();
						c.setAutoCommit(true);
					} catch (SQLException e2) {
						fail(r + " rollback", e2);
						break;
					}
				}
				Thread.sleep(20); /* let the other clients run on the server */
			}
			ps.close();
		} catch (SQLException e) {
			fail("connection", e);
		}
		StringBuilder p = new StringBuilder();
		for (Long pid : pids)
			p.append(p.length() > 0 ? "," : "").append(pid);
		System.out.println("checks=" + checks + " failed=" + failed + " pids=" + p);
		System.exit(failed == 0 && checks > 0 ? 0 : 1);
	}
}
