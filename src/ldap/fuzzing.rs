//! The entry point of the fuzz target (`tests/fuzz`): bytes are decoded as the listener
//! decodes a client's messages, and every request is taken apart as the handler takes
//! it — DNs parsed, attribute lists read, filters sized and evaluated on sample entries
//! as each kind of reader sees them. Whatever the bytes, nothing may panic.

use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{LdapFilter, LdapMsg, LdapOp};
use tokio_util::bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::dit::{Attr, Entry};
use super::filter;
use super::schema::{self, AttrType};
use super::search::{Selection, encode};
use super::{MAX_BER_DEPTH, dn};

/// Largest message the fuzz target decodes (the default `max_message_bytes`).
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The default `max_filter_elements`: larger filters are refused before evaluation.
const MAX_FILTER_ELEMENTS: usize = 256;

/// Decodes every message in `data` and takes each request apart; returns how many
/// messages decoded (the fuzzer only needs it not to panic).
pub fn one_input(data: &[u8]) -> usize {
    let mut codec = LdapCodec::new(Some(MAX_MESSAGE_BYTES), Some(MAX_BER_DEPTH));
    let mut buf = BytesMut::from(data);
    let entries = sample_entries();
    let mut decoded = 0;
    // The listener closes the connection on the first error; so does this loop.
    while let Ok(Some(msg)) = codec.decode(&mut buf) {
        decoded += 1;
        take_apart(&msg, &entries);
    }
    decoded
}

/// What the handler does with a request before reading the directory.
fn take_apart(msg: &LdapMsg, entries: &[Entry]) {
    match &msg.op {
        LdapOp::SearchRequest(req) => {
            let _ = dn::normalize(&req.base);
            let selection = Selection::new(&req.attrs);
            if filter::elements(&req.filter) <= MAX_FILTER_ELEMENTS {
                for entry in entries {
                    if filter::evaluate(&req.filter, entry) == filter::Tri::True {
                        let _ = encode(msg.msgid, entry, &selection, req.typesonly, false);
                    }
                }
            }
        }
        LdapOp::CompareRequest(req) => {
            let _ = dn::normalize(&req.dn);
            if let Ok(value) = String::from_utf8(req.val.clone()) {
                let assertion = LdapFilter::Equality(req.atype.clone(), value);
                for entry in entries {
                    let _ = filter::evaluate(&assertion, entry);
                }
            }
        }
        LdapOp::BindRequest(req) => {
            let _ = dn::normalize(&req.dn);
        }
        LdapOp::DelRequest(name) => {
            let _ = dn::normalize(name);
        }
        _ => {}
    }
}

fn attr(ty: &'static AttrType, values: &[&str]) -> Attr {
    Attr {
        ty,
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// An account as its own structure sees it, and as an application reading three
/// attributes sees it (the others Undefined in filters).
fn sample_entries() -> Vec<Entry> {
    let mut person = Entry::new("uid=jdupont,ou=people,dc=apex,dc=test".into());
    person.attrs = vec![
        attr(
            &schema::OBJECT_CLASS,
            &["top", "person", "inetOrgPerson", "apexAccount"],
        ),
        attr(&schema::UID, &["jdupont"]),
        attr(&schema::CN, &["Jean Dupont"]),
        attr(&schema::SN, &["Dupont"]),
        attr(&schema::MAIL, &["jean.dupont@example.fr"]),
        attr(&schema::APEX_SIRET, &["73282932000074"]),
        attr(&schema::APEX_PROFILE, &["FICOBA:CONSULTATION"]),
        attr(
            &schema::MEMBER_OF,
            &["cn=FICOBA:CONSULTATION,ou=profiles,dc=apex,dc=test"],
        ),
        attr(&schema::CREATE_TIMESTAMP, &["20260102030405Z"]),
        attr(&schema::HAS_SUBORDINATES, &["FALSE"]),
        attr(&schema::SUPPORTED_LDAP_VERSION, &["3"]),
    ];
    let mut restricted = person.clone();
    restricted.readable = Some(vec![&schema::UID, &schema::CN, &schema::APEX_SIRET]);
    restricted
        .attrs
        .retain(|a| restricted.readable.iter().flatten().any(|t| t.covers(a.ty)));
    vec![person, restricted]
}

#[cfg(test)]
mod tests {
    use ldap3_proto::proto::{
        LdapDerefAliases, LdapSearchRequest, LdapSearchScope, LdapSubstringFilter,
    };
    use proptest::prelude::*;
    use tokio_util::codec::Encoder;

    use super::*;

    fn encoded(filter: LdapFilter) -> Vec<u8> {
        let msg = LdapMsg {
            msgid: 1,
            op: LdapOp::SearchRequest(LdapSearchRequest {
                base: "ou=people,dc=apex,dc=test".into(),
                scope: LdapSearchScope::Subtree,
                aliases: LdapDerefAliases::Never,
                sizelimit: 0,
                timelimit: 0,
                typesonly: false,
                filter,
                attrs: vec!["cn".into(), "+".into()],
            }),
            ctrl: Vec::new(),
        };
        let mut buf = BytesMut::new();
        LdapCodec::default().encode(msg, &mut buf).unwrap();
        buf.to_vec()
    }

    fn seed() -> Vec<u8> {
        encoded(LdapFilter::And(vec![
            LdapFilter::Equality("uid".into(), "JDupont".into()),
            LdapFilter::Not(Box::new(LdapFilter::Present("mail".into()))),
            LdapFilter::Substring(
                "cn".into(),
                LdapSubstringFilter {
                    initial: Some("jean".into()),
                    any: vec!["d".into()],
                    final_: Some("t".into()),
                },
            ),
            LdapFilter::GreaterOrEqual("createTimestamp".into(), "2026".into()),
        ]))
    }

    #[test]
    fn a_valid_search_decodes_and_its_filter_is_evaluated() {
        assert_eq!(one_input(&seed()), 1);
        let mut two = seed();
        two.extend(seed());
        assert_eq!(one_input(&two), 2);
    }

    #[test]
    fn malformed_inputs_of_the_corpus_never_panic() {
        let deep = {
            let mut f = LdapFilter::Present("cn".into());
            for _ in 0..200 {
                f = LdapFilter::Not(Box::new(f));
            }
            encoded(f)
        };
        let corpus: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![0x30],
            vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            vec![0x30, 0x03, 0x02, 0x01, 0x01],
            vec![0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00],
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00],
            [0x30u8, 0x82, 0xff, 0xff].repeat(100),
            deep,
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            encoded(LdapFilter::Equality(
                "createTimestamp".into(),
                "\u{0}zz".into(),
            )),
            encoded(LdapFilter::Substring(
                "apexSiret".into(),
                LdapSubstringFilter {
                    initial: None,
                    any: vec![String::new(); 50],
                    final_: None,
                },
            )),
        ];
        for input in corpus {
            one_input(&input);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            one_input(&bytes);
        }

        #[test]
        fn mutated_searches_never_panic(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
        ) {
            let mut bytes = seed();
            for (at, byte, how) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 => bytes.insert(at, byte),
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ => bytes.truncate(at),
                }
            }
            one_input(&bytes);
        }
    }
}
