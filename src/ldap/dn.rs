//! Distinguished names (RFC 4514): parsing with escapes, and the normal form used to
//! compare them (types by canonical name, values case-folded, spaces collapsed).

use super::schema;

/// Longest DN accepted, in bytes.
const MAX_DN_BYTES: usize = 4096;

/// One attribute-value assertion of an RDN, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    /// The canonical attribute name when known (`uid` for `userid`), else as written.
    pub attr: String,
    /// The value, unescaped, as written.
    pub value: String,
}

/// A DN that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN: {0}")]
pub struct DnError(pub &'static str);

/// Parses a DN into its RDNs, leftmost first; each RDN holds one or more AVAs.
pub fn parse(dn: &str) -> Result<Vec<Vec<Ava>>, DnError> {
    if dn.len() > MAX_DN_BYTES {
        return Err(DnError("too long"));
    }
    let mut rdns = Vec::new();
    if dn.trim().is_empty() {
        return Ok(rdns);
    }
    let mut rdn = Vec::new();
    let mut chars = dn.chars().peekable();
    loop {
        let attr = read_attr(&mut chars)?;
        let value = read_value(&mut chars)?;
        rdn.push(Ava { attr, value });
        match chars.next() {
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
            Some(',' | ';') => rdns.push(std::mem::take(&mut rdn)),
            Some('+') => {}
            Some(_) => return Err(DnError("unexpected character after a value")),
        }
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn read_attr(chars: &mut Chars<'_>) -> Result<String, DnError> {
    let mut attr = String::new();
    for c in chars.by_ref() {
        if c == '=' {
            let attr = attr.trim();
            if attr.is_empty()
                || !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(DnError("bad attribute type"));
            }
            return Ok(match schema::lookup(attr) {
                Some(t) => t.name.to_owned(),
                None => attr.to_ascii_lowercase(),
            });
        }
        if c == ',' || c == '+' || c == ';' {
            return Err(DnError("attribute type without a value"));
        }
        attr.push(c);
    }
    Err(DnError("attribute type without a value"))
}

fn read_value(chars: &mut Chars<'_>) -> Result<String, DnError> {
    while chars.peek() == Some(&' ') {
        chars.next();
    }
    if chars.peek() == Some(&'"') {
        chars.next();
        let mut value = String::new();
        loop {
            match chars.next() {
                None => return Err(DnError("unterminated quoted value")),
                Some('"') => break,
                Some('\\') => value.push(chars.next().ok_or(DnError("dangling escape"))?),
                Some(c) => value.push(c),
            }
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        return Ok(value);
    }
    let mut bytes: Vec<u8> = Vec::new();
    // Trailing spaces are insignificant unless escaped: remember where the last
    // significant byte ends.
    let mut significant = 0;
    while let Some(&c) = chars.peek() {
        if c == ',' || c == '+' || c == ';' {
            break;
        }
        chars.next();
        if c == '\\' {
            let first = chars.next().ok_or(DnError("dangling escape"))?;
            if first.is_ascii_hexdigit() {
                let second = chars
                    .next()
                    .filter(char::is_ascii_hexdigit)
                    .ok_or(DnError("bad hex escape"))?;
                let hex = [first, second].iter().collect::<String>();
                let byte = u8::from_str_radix(&hex, 16).map_err(|_| DnError("bad hex escape"))?;
                bytes.push(byte);
            } else if " \"#+,;<=>\\".contains(first) {
                bytes.push(first as u8);
            } else {
                return Err(DnError("bad escape"));
            }
            significant = bytes.len();
        } else {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            if c != ' ' {
                significant = bytes.len();
            }
        }
    }
    bytes.truncate(significant);
    String::from_utf8(bytes).map_err(|_| DnError("value is not UTF-8"))
}

/// Escapes a value for a DN string (RFC 4514 §2.4).
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if c == '\0' {
            out.push_str("\\00");
        } else {
            if special {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A value compared case- and space-insensitively.
pub fn fold_value(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The normal form of parsed RDNs: `type=value` with folded values, AVAs sorted.
pub fn normal_form(rdns: &[Vec<Ava>]) -> String {
    rdns.iter()
        .map(|rdn| {
            let mut avas: Vec<String> = rdn
                .iter()
                .map(|a| {
                    format!(
                        "{}={}",
                        a.attr.to_lowercase(),
                        escape(&fold_value(&a.value))
                    )
                })
                .collect();
            avas.sort();
            avas.join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The normal form of a DN string.
pub fn normalize(dn: &str) -> Result<String, DnError> {
    parse(dn).map(|rdns| normal_form(&rdns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_parse_with_escapes_and_normalize() {
        let rdns = parse(r"UID=JDupont , OU=People,dc=apex, dc=fr").unwrap();
        assert_eq!(rdns.len(), 4);
        assert_eq!(rdns[0][0].attr, "uid");
        assert_eq!(rdns[0][0].value, "JDupont");
        assert_eq!(
            normalize("userid=JDupont,ou=People,dc=apex,dc=fr").unwrap(),
            "uid=jdupont,ou=people,dc=apex,dc=fr"
        );
        let rdns = parse(r"cn=a\,b\2Bc\ ,o=x").unwrap();
        assert_eq!(rdns[0][0].value, "a,b+c ");
        let rdns = parse(r#"cn="x, y",o=z"#).unwrap();
        assert_eq!(rdns[0][0].value, "x, y");
        assert_eq!(parse("").unwrap().len(), 0);
        assert_eq!(
            normalize("cn=FICOBA:CONSULTATION,ou=profiles").unwrap(),
            "cn=ficoba:consultation,ou=profiles"
        );
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for bad in [
            "uid",
            "=x",
            "uid=a,",
            "uid=a,,b=c",
            r"cn=\",
            r"cn=\4",
            r"cn=\zz",
            "cn=\"open",
            "c n=x",
            r"cn=\ff\fe",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"a=b,".repeat(2000)).is_err());
    }

    #[test]
    fn escaping_round_trips() {
        for v in ["a,b", " lead", "trail ", "#x", "x=y+z", "é\"q\\"] {
            let dn = format!("cn={},o=x", escape(v));
            assert_eq!(parse(&dn).unwrap()[0][0].value, v, "{dn}");
        }
    }
}
