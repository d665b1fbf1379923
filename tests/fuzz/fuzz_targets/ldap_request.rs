//! Bytes from a client, decoded and taken apart as the LDAP face does (see
//! `apex_idp::ldap::fuzzing`): any panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    apex_idp::ldap::fuzzing::one_input(data);
});
