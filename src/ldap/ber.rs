//! Search result entries written straight to BER (RFC 4511 §4.5.2, X.690 definite
//! lengths): from an entry's strings to the bytes on the wire in one buffer, without
//! building ldap3_proto's intermediate tree of tags for every value. Every other
//! message goes through ldap3_proto's codec.

/// Universal and LDAP tags used here.
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// `[APPLICATION 4]`, constructed: SearchResultEntry.
const SEARCH_RESULT_ENTRY: u8 = 0x64;

/// One attribute to write: its type and its values (none with typesOnly).
pub struct Attribute<'a> {
    /// The attribute description.
    pub name: &'a str,
    /// The values.
    pub values: &'a [String],
}

/// Bytes taken by a length field.
fn length_size(n: usize) -> usize {
    if n < 0x80 {
        1
    } else {
        1 + (usize::BITS - n.leading_zeros()).div_ceil(8) as usize
    }
}

/// Bytes taken by a whole TLV whose content is `n` bytes.
fn tlv_size(n: usize) -> usize {
    1 + length_size(n) + n
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    if n < 0x80 {
        // Below 0x80: the length is its own single byte.
        out.push(n.to_be_bytes().last().copied().unwrap_or(0));
        return;
    }
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let used = bytes.get(skip..).unwrap_or_default();
    out.push(0x80 | used.len().to_be_bytes().last().copied().unwrap_or(0));
    out.extend_from_slice(used);
}

fn octet_string(out: &mut Vec<u8>, s: &[u8]) {
    header(out, OCTET_STRING, s.len());
    out.extend_from_slice(s);
}

/// The content octets of an INTEGER: two's complement, shortest form.
fn integer_content(v: i32) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (Some(b), Some(next)) = (bytes.get(start), bytes.get(start + 1)) else {
            break;
        };
        let redundant = (*b == 0x00 && next & 0x80 == 0) || (*b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes.get(start..).unwrap_or_default().to_vec()
}

/// Content size of one PartialAttribute: type, then the set of values.
fn attribute_content(a: &Attribute<'_>) -> (usize, usize) {
    let values: usize = a.values.iter().map(|v| tlv_size(v.len())).sum();
    (tlv_size(a.name.len()) + tlv_size(values), values)
}

/// The whole LDAPMessage carrying one SearchResultEntry.
pub fn search_result_entry(msgid: i32, dn: &str, attributes: &[Attribute<'_>]) -> Vec<u8> {
    let id = integer_content(msgid);
    let list: usize = attributes
        .iter()
        .map(|a| tlv_size(attribute_content(a).0))
        .sum();
    let op = tlv_size(dn.len()) + tlv_size(list);
    let message = tlv_size(id.len()) + tlv_size(op);
    let mut out = Vec::with_capacity(tlv_size(message));
    header(&mut out, SEQUENCE, message);
    header(&mut out, INTEGER, id.len());
    out.extend_from_slice(&id);
    header(&mut out, SEARCH_RESULT_ENTRY, op);
    octet_string(&mut out, dn.as_bytes());
    header(&mut out, SEQUENCE, list);
    for a in attributes {
        let (content, values) = attribute_content(a);
        header(&mut out, SEQUENCE, content);
        octet_string(&mut out, a.name.as_bytes());
        header(&mut out, SET, values);
        for v in a.values {
            octet_string(&mut out, v.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ldap3_proto::LdapCodec;
    use ldap3_proto::proto::{LdapMsg, LdapOp, LdapPartialAttribute, LdapSearchResultEntry};
    use proptest::prelude::*;
    use tokio_util::bytes::BytesMut;
    use tokio_util::codec::{Decoder, Encoder};

    use super::*;

    fn decode(bytes: &[u8]) -> LdapMsg {
        let mut buf = BytesMut::from(bytes);
        let msg = LdapCodec::new(Some(1 << 30), None)
            .decode(&mut buf)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty(), "trailing bytes");
        msg
    }

    fn expected(msgid: i32, dn: &str, attrs: &[(String, Vec<String>)]) -> LdapMsg {
        LdapMsg {
            msgid,
            op: LdapOp::SearchResultEntry(LdapSearchResultEntry {
                dn: dn.to_owned(),
                attributes: attrs
                    .iter()
                    .map(|(n, v)| LdapPartialAttribute {
                        atype: n.clone(),
                        vals: v.iter().map(|s| s.clone().into_bytes()).collect(),
                    })
                    .collect(),
            }),
            ctrl: Vec::new(),
        }
    }

    /// The header of an octet string of `n` bytes.
    fn octet_string_header(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, OCTET_STRING, n);
        out
    }

    #[test]
    fn lengths_use_the_short_form_below_128_bytes_and_the_long_form_from_128() {
        // X.690 §8.1.3: below 128 the length is one byte; from 128, 0x80 | the count of
        // length bytes, then the length big-endian in as few bytes as it needs.
        assert_eq!(octet_string_header(0), [0x04, 0x00]);
        assert_eq!(octet_string_header(1), [0x04, 0x01]);
        assert_eq!(octet_string_header(127), [0x04, 0x7f]);
        assert_eq!(octet_string_header(128), [0x04, 0x81, 0x80]);
        assert_eq!(octet_string_header(255), [0x04, 0x81, 0xff]);
        assert_eq!(octet_string_header(256), [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(octet_string_header(65_535), [0x04, 0x82, 0xff, 0xff]);
        assert_eq!(octet_string_header(65_536), [0x04, 0x83, 0x01, 0x00, 0x00]);
        assert_eq!(
            octet_string_header(1 << 24),
            [0x04, 0x84, 0x01, 0x00, 0x00, 0x00]
        );
        // The sizes computed ahead agree with the bytes written.
        for n in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 24] {
            assert_eq!(
                octet_string_header(n).len(),
                1 + length_size(n),
                "length {n}"
            );
        }
        let mut whole = Vec::new();
        octet_string(&mut whole, &[0x61; 128]);
        assert_eq!(whole.get(..4), Some(&[0x04, 0x81, 0x80, 0x61][..]));
        assert_eq!(whole.len(), 3 + 128);
        assert_eq!(integer_content(0), vec![0]);
        assert_eq!(integer_content(127), vec![0x7f]);
        assert_eq!(integer_content(128), vec![0x00, 0x80]);
        assert_eq!(integer_content(i32::MAX), vec![0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(integer_content(-1), vec![0xff]);
    }

    #[test]
    fn a_large_entry_reads_back_as_ldap3_proto_would_write_it() {
        let members: Vec<String> = (0..5000)
            .map(|i| format!("uid=user{i},ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr"))
            .collect();
        let dn = "cn=FICOBA:CONSULTATION,ou=profiles,dc=apex,dc=dgfip,dc=gouv,dc=fr";
        let attrs = vec![
            (
                "objectClass".to_owned(),
                vec!["top".to_owned(), "groupOfNames".to_owned()],
            ),
            ("member".to_owned(), members),
            ("description".to_owned(), Vec::new()),
        ];
        let view: Vec<Attribute<'_>> = attrs
            .iter()
            .map(|(n, v)| Attribute { name: n, values: v })
            .collect();
        let ours = search_result_entry(300_000, dn, &view);
        let want = expected(300_000, dn, &attrs);
        assert_eq!(decode(&ours), want);
        let mut theirs = BytesMut::new();
        LdapCodec::default().encode(want, &mut theirs).unwrap();
        assert_eq!(decode(&theirs), decode(&ours));
    }

    proptest! {
        #[test]
        fn any_entry_decodes_to_what_was_written(
            msgid in 0i32..=i32::MAX,
            dn in "[a-zA-Z0-9=,é ]{0,300}",
            attrs in proptest::collection::vec(
                ("[a-zA-Z][a-zA-Z0-9-]{0,20}", proptest::collection::vec(".{0,200}", 0..5)),
                0..12,
            ),
        ) {
            let view: Vec<Attribute<'_>> = attrs
                .iter()
                .map(|(n, v)| Attribute { name: n, values: v })
                .collect();
            let bytes = search_result_entry(msgid, &dn, &view);
            prop_assert_eq!(decode(&bytes), expected(msgid, &dn, &attrs));
        }
    }
}
