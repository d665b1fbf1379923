import java.util.Hashtable;
import javax.naming.AuthenticationException;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;

/**
 * Signs a person in against apex-idp's LDAP face with JNDI (the JDK alone, as Spring
 * LDAP does underneath): the application's service account finds the entry, the
 * person's own bind proves the password, apexProfile decides the access.
 *
 * <pre>LDAP_URL=ldap://127.0.0.1:3389 java ApexLdapCheck.java LOGIN PASSWORD</pre>
 * exit 0: signed in and holds FICOBA:CONSULTATION; 1: refused; 2: LDAP unreachable.
 */
public class ApexLdapCheck {
    static final String BASE = "dc=apex,dc=dgfip,dc=gouv,dc=fr";
    static final String PROFILE = "FICOBA:CONSULTATION";

    static DirContext bind(String url, String dn, String password) throws NamingException {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
        env.put(Context.PROVIDER_URL, url);
        env.put(Context.SECURITY_AUTHENTICATION, "simple");
        env.put(Context.SECURITY_PRINCIPAL, dn);
        env.put(Context.SECURITY_CREDENTIALS, password);
        env.put("com.sun.jndi.ldap.connect.timeout", "5000");
        return new InitialDirContext(env);
    }

    public static void main(String[] args) {
        String url = System.getenv().getOrDefault("LDAP_URL", "ldap://127.0.0.1:3389");
        String secret = System.getenv().getOrDefault("LDAP_SECRET", "ficoba-ldap-secret");
        String login = args[0];
        String password = args[1];
        try {
            DirContext service = bind(url, "cn=FICOBA,ou=applications," + BASE, secret);
            SearchControls controls = new SearchControls();
            controls.setSearchScope(SearchControls.SUBTREE_SCOPE);
            controls.setReturningAttributes(new String[] {"cn", "mail", "apexProfile", "apexSiret"});
            // {0} is escaped by JNDI as a filter value.
            NamingEnumeration<SearchResult> found =
                    service.search("ou=people," + BASE, "(uid={0})", new Object[] {login}, controls);
            if (!found.hasMore()) {
                System.out.println("refused: unknown login");
                System.exit(1);
            }
            SearchResult entry = found.next();
            if (password.isEmpty()) {
                System.out.println("refused: wrong password");
                System.exit(1);
            }
            try {
                bind(url, entry.getNameInNamespace(), password).close();
            } catch (AuthenticationException e) {
                System.out.println("refused: wrong password");
                System.exit(1);
            }
            Attribute profiles = entry.getAttributes().get("apexProfile");
            if (profiles == null || !profiles.contains(PROFILE)) {
                System.out.println("refused: " + login + " does not hold " + PROFILE);
                System.exit(1);
            }
            System.out.println("signed in: " + entry.getAttributes().get("cn").get()
                    + " (" + entry.getAttributes().get("mail").get() + "), SIRET "
                    + entry.getAttributes().get("apexSiret").get());
            service.close();
        } catch (NamingException e) {
            System.out.println("LDAP error: " + e);
            System.exit(2);
        }
    }
}
