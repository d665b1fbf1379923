"""Signs a person in against apex-idp's LDAP face the classic way, with python ldap3:
the application's service account finds the person's entry, the person's own bind
proves the password, and the entry's apexProfile decides the access.

    LDAP_URL=ldap://127.0.0.1:3389 python3 ldap3_check.py LOGIN PASSWORD
exit 0: signed in and holds FICOBA:CONSULTATION; 1: refused; 2: LDAP unreachable.
"""
import os
import sys

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

URL = os.environ.get("LDAP_URL", "ldap://127.0.0.1:3389")
BASE = "dc=apex,dc=dgfip,dc=gouv,dc=fr"
SERVICE_DN = "cn=FICOBA,ou=applications," + BASE
SERVICE_SECRET = os.environ.get("LDAP_SECRET", "ficoba-ldap-secret")
PROFILE = "FICOBA:CONSULTATION"


def main(login, password):
    server = Server(URL, connect_timeout=5)
    try:
        service = Connection(server, SERVICE_DN, SERVICE_SECRET, auto_bind=True)
        service.search(
            "ou=people," + BASE,
            "(uid=%s)" % escape_filter_chars(login),
            attributes=["cn", "mail", "apexProfile", "apexSiret"],
        )
        if len(service.entries) != 1:
            print("refused: unknown login")
            return 1
        entry = service.entries[0]
        # An empty password would be an anonymous bind, which proves nothing.
        person = Connection(server, entry.entry_dn, password) if password else None
        if person is None or not person.bind():
            print("refused: wrong password")
            return 1
        person.unbind()
        if PROFILE not in entry.apexProfile.values:
            print("refused: %s does not hold %s" % (login, PROFILE))
            return 1
        print("signed in: %s (%s), SIRET %s" % (entry.cn.value, entry.mail.value, entry.apexSiret.value))
        return 0
    except LDAPException as e:
        print("LDAP error: %s" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
