<?php
// Signs a person in against apex-idp's LDAP face with PHP's ldap_* functions: the
// application's service account finds the entry, the person's own bind proves the
// password, apexProfile decides the access.
//
//   LDAP_URL=ldap://127.0.0.1:3389 php ldap_check.php LOGIN PASSWORD
// exit 0: signed in and holds FICOBA:CONSULTATION; 1: refused; 2: LDAP unreachable.

$url = getenv('LDAP_URL') ?: 'ldap://127.0.0.1:3389';
$base = 'dc=apex,dc=dgfip,dc=gouv,dc=fr';
$serviceDn = "cn=FICOBA,ou=applications,$base";
$serviceSecret = getenv('LDAP_SECRET') ?: 'ficoba-ldap-secret';
$profile = 'FICOBA:CONSULTATION';
[$login, $password] = [$argv[1], $argv[2]];

$ldap = ldap_connect($url);
ldap_set_option($ldap, LDAP_OPT_PROTOCOL_VERSION, 3);
ldap_set_option($ldap, LDAP_OPT_NETWORK_TIMEOUT, 5);
if (!@ldap_bind($ldap, $serviceDn, $serviceSecret)) {
    echo 'LDAP error: ' . ldap_error($ldap) . "\n";
    exit(2);
}
$filter = '(uid=' . ldap_escape($login, '', LDAP_ESCAPE_FILTER) . ')';
$found = ldap_search($ldap, "ou=people,$base", $filter, ['cn', 'mail', 'apexprofile', 'apexsiret']);
$entries = ldap_get_entries($ldap, $found);
if ($entries['count'] !== 1) {
    echo "refused: unknown login\n";
    exit(1);
}
$entry = $entries[0];
// A second connection for the person's own bind: the service account's stays as it is.
$person = ldap_connect($url);
ldap_set_option($person, LDAP_OPT_PROTOCOL_VERSION, 3);
if ($password === '' || !@ldap_bind($person, $entry['dn'], $password)) {
    echo "refused: wrong password\n";
    exit(1);
}
$profiles = array_slice($entry['apexprofile'] ?? ['count' => 0], 1);
if (!in_array($profile, $profiles, true)) {
    echo "refused: $login does not hold $profile\n";
    exit(1);
}
printf("signed in: %s (%s), SIRET %s\n", $entry['cn'][0], $entry['mail'][0], $entry['apexsiret'][0]);
exit(0);
