//! RFC 4515 search filters evaluated on an entry, with RFC 4511 three-valued logic and
//! the matching rules of each attribute's syntax; and their size, bounded.

use ldap3_proto::proto::{LdapFilter, LdapMatchingRuleAssertion, LdapSubstringFilter};

use super::dit::Entry;
use super::dn;
use super::schema::{self, AttrType, Syntax};

/// The value of a filter on an entry (RFC 4511 §4.5.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// Matches.
    True,
    /// Does not match.
    False,
    /// Cannot tell (unknown attribute, inappropriate matching, invalid assertion).
    Undefined,
}

impl Tri {
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Undefined => Tri::Undefined,
        }
    }

    fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
}

/// Number of elements of a filter (every node counts), computed without recursion.
pub fn elements(filter: &LdapFilter) -> usize {
    let mut count = 0;
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        count += 1;
        match f {
            LdapFilter::And(v) | LdapFilter::Or(v) => stack.extend(v.iter()),
            LdapFilter::Not(inner) => stack.push(inner),
            _ => {}
        }
    }
    count
}

/// Evaluates a filter on an entry (already cut down to what the reader may see).
pub fn evaluate(filter: &LdapFilter, entry: &Entry) -> Tri {
    match filter {
        LdapFilter::And(children) => {
            let mut out = Tri::True;
            for c in children {
                match evaluate(c, entry) {
                    Tri::False => return Tri::False,
                    Tri::Undefined => out = Tri::Undefined,
                    Tri::True => {}
                }
            }
            out
        }
        LdapFilter::Or(children) => {
            let mut out = Tri::False;
            for c in children {
                match evaluate(c, entry) {
                    Tri::True => return Tri::True,
                    Tri::Undefined => out = Tri::Undefined,
                    Tri::False => {}
                }
            }
            out
        }
        LdapFilter::Not(inner) => evaluate(inner, entry).not(),
        LdapFilter::Present(attr) => match schema::lookup(attr) {
            Some(t) if !entry.can_read(t) => Tri::Undefined,
            Some(t) => Tri::from_bool(values(entry, t).next().is_some()),
            None => Tri::False,
        },
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
            compare(entry, attr, value, |a, b| a == b)
        }
        LdapFilter::GreaterOrEqual(attr, value) => {
            compare_ordered(entry, attr, value, |a, b| a >= b)
        }
        LdapFilter::LessOrEqual(attr, value) => compare_ordered(entry, attr, value, |a, b| a <= b),
        LdapFilter::Substring(attr, sub) => substring(entry, attr, sub),
        LdapFilter::Extensible(mra) => extensible(entry, mra),
    }
}

/// The values of every attribute of the entry that `t` covers (a type and its subtypes).
fn values<'e>(entry: &'e Entry, t: &'static AttrType) -> impl Iterator<Item = &'e str> {
    entry
        .attrs
        .iter()
        .filter(move |a| t.covers(a.ty))
        .flat_map(|a| a.values.iter().map(String::as_str))
}

/// A value in the form its matching rule compares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Norm {
    Str(String),
    Int(i128),
    Time(i64),
    Bool(bool),
}

fn normalize(syntax: Syntax, value: &str) -> Option<Norm> {
    Some(match syntax {
        Syntax::CaseIgnore => Norm::Str(dn::fold_value(value)),
        Syntax::CaseExact => Norm::Str(value.split_whitespace().collect::<Vec<_>>().join(" ")),
        Syntax::Numeric => Norm::Str(value.chars().filter(|c| *c != ' ').collect()),
        Syntax::Dn => Norm::Str(dn::normalize(value).ok()?),
        Syntax::Integer => Norm::Int(value.trim().parse().ok()?),
        Syntax::Time => Norm::Time(parse_generalized_time(value)?),
        Syntax::Boolean => match value.trim() {
            "TRUE" => Norm::Bool(true),
            "FALSE" => Norm::Bool(false),
            _ => return None,
        },
    })
}

/// The attribute type a filter item names, when known and readable.
fn readable(entry: &Entry, attr: &str) -> Option<&'static AttrType> {
    schema::lookup(attr).filter(|t| entry.can_read(t))
}

fn compare(entry: &Entry, attr: &str, value: &str, op: fn(&Norm, &Norm) -> bool) -> Tri {
    let Some(t) = readable(entry, attr) else {
        return Tri::Undefined;
    };
    match_values(entry, t, t.syntax, value, op)
}

fn match_values(
    entry: &Entry,
    t: &'static AttrType,
    syntax: Syntax,
    value: &str,
    op: fn(&Norm, &Norm) -> bool,
) -> Tri {
    let Some(assertion) = normalize(syntax, value) else {
        return Tri::Undefined;
    };
    let mut out = Tri::False;
    for v in values(entry, t) {
        match normalize(syntax, v) {
            Some(n) if op(&n, &assertion) => return Tri::True,
            Some(_) => {}
            None => out = Tri::Undefined,
        }
    }
    out
}

fn compare_ordered(entry: &Entry, attr: &str, value: &str, op: fn(&Norm, &Norm) -> bool) -> Tri {
    match schema::lookup(attr) {
        // DNs and booleans have no ordering rule.
        Some(t) if matches!(t.syntax, Syntax::Dn | Syntax::Boolean) => Tri::Undefined,
        Some(_) => compare(entry, attr, value, op),
        None => Tri::Undefined,
    }
}

fn substring(entry: &Entry, attr: &str, sub: &LdapSubstringFilter) -> Tri {
    let Some(t) = readable(entry, attr) else {
        return Tri::Undefined;
    };
    let fold = |s: &str| match t.syntax {
        Syntax::CaseIgnore => Some(s.to_lowercase()),
        Syntax::CaseExact => Some(s.to_owned()),
        Syntax::Numeric => Some(s.chars().filter(|c| *c != ' ').collect()),
        _ => None,
    };
    let Some(initial) = sub
        .initial
        .as_deref()
        .map(fold)
        .unwrap_or(Some(String::new()))
    else {
        return Tri::Undefined;
    };
    let Some(final_) = sub
        .final_
        .as_deref()
        .map(fold)
        .unwrap_or(Some(String::new()))
    else {
        return Tri::Undefined;
    };
    let Some(any) = sub.any.iter().map(|a| fold(a)).collect::<Option<Vec<_>>>() else {
        return Tri::Undefined;
    };
    let hit = values(entry, t).filter_map(fold).any(|v| {
        let Some(mut rest) = v.strip_prefix(initial.as_str()) else {
            return false;
        };
        for piece in &any {
            match rest.find(piece.as_str()) {
                Some(at) => rest = rest.get(at + piece.len()..).unwrap_or_default(),
                None => return false,
            }
        }
        rest.ends_with(final_.as_str())
    });
    Tri::from_bool(hit)
}

/// The syntax a matching rule compares with (by name or OID); None when unknown.
fn rule_syntax(rule: &str) -> Option<Syntax> {
    let known: [(&str, &str, Syntax); 12] = [
        ("caseIgnoreMatch", "2.5.13.2", Syntax::CaseIgnore),
        ("caseExactMatch", "2.5.13.5", Syntax::CaseExact),
        (
            "caseIgnoreIA5Match",
            "1.3.6.1.4.1.1466.109.114.2",
            Syntax::CaseIgnore,
        ),
        (
            "caseExactIA5Match",
            "1.3.6.1.4.1.1466.109.114.1",
            Syntax::CaseExact,
        ),
        ("distinguishedNameMatch", "2.5.13.1", Syntax::Dn),
        ("numericStringMatch", "2.5.13.8", Syntax::Numeric),
        ("integerMatch", "2.5.13.14", Syntax::Integer),
        ("generalizedTimeMatch", "2.5.13.27", Syntax::Time),
        ("booleanMatch", "2.5.13.13", Syntax::Boolean),
        ("octetStringMatch", "2.5.13.17", Syntax::CaseExact),
        ("objectIdentifierMatch", "2.5.13.0", Syntax::CaseIgnore),
        ("UUIDMatch", "1.3.6.1.1.16.2", Syntax::CaseIgnore),
    ];
    known
        .iter()
        .find(|(name, oid, _)| name.eq_ignore_ascii_case(rule) || *oid == rule)
        .map(|(_, _, s)| *s)
}

fn extensible(entry: &Entry, mra: &LdapMatchingRuleAssertion) -> Tri {
    let attr = match mra.type_.as_deref() {
        Some(name) => match readable(entry, name) {
            Some(t) => Some(t),
            None => return Tri::Undefined,
        },
        None => None,
    };
    let syntax = match (mra.matching_rule.as_deref(), attr) {
        (Some(rule), _) => match rule_syntax(rule) {
            Some(s) => s,
            None => return Tri::Undefined,
        },
        (None, Some(t)) => t.syntax,
        (None, None) => return Tri::Undefined,
    };
    let Some(assertion) = normalize(syntax, &mra.match_value) else {
        return Tri::Undefined;
    };
    let matches = |v: &str| normalize(syntax, v).is_some_and(|n| n == assertion);
    let in_attrs = match attr {
        Some(t) => values(entry, t).any(matches),
        None => entry
            .attrs
            .iter()
            .flat_map(|a| a.values.iter())
            .any(|v| matches(v)),
    };
    let in_dn = mra.dn_attributes
        && dn::parse(&entry.dn).is_ok_and(|rdns| {
            rdns.iter().flatten().any(|ava| {
                let type_ok =
                    attr.is_none_or(|t| schema::lookup(&ava.attr).is_some_and(|a| t.covers(a)));
                type_ok && matches(&ava.value)
            })
        });
    Tri::from_bool(in_attrs || in_dn)
}

/// Parses a GeneralizedTime (`YYYYMMDDHH[MM[SS]][.fff](Z|±HHMM)`) into unix seconds.
pub fn parse_generalized_time(value: &str) -> Option<i64> {
    let v = value.trim();
    let (body, offset) = if let Some(b) = v.strip_suffix('Z') {
        (b, 0)
    } else {
        let at = v.rfind(['+', '-'])?;
        let (b, off) = v.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits = off.get(1..)?;
        if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let h: i64 = digits.get(..2)?.parse().ok()?;
        let m: i64 = digits.get(2..)?.parse().ok()?;
        (b, sign * (h * 3600 + m * 60))
    };
    let body = body.split(['.', ',']).next()?;
    if body.len() < 10 || body.len() % 2 != 0 || !body.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> { body.get(r)?.parse().ok() };
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?;
    let time = chrono::NaiveTime::from_hms_opt(
        num(8..10)?,
        num(10..12).unwrap_or(0),
        num(12..14).unwrap_or(0),
    )?;
    Some(date.and_time(time).and_utc().timestamp() - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ldap::dit::Attr;
    use ldap3_proto::parse_ldap_filter_str;

    fn entry() -> Entry {
        let attr = |ty: &'static AttrType, vals: &[&str]| Attr {
            ty,
            values: vals.iter().map(|v| (*v).to_owned()).collect(),
        };
        Entry {
            dn: "uid=jdupont,ou=people,dc=apex,dc=fr".into(),
            readable: None,
            attrs: vec![
                attr(&schema::OBJECT_CLASS, &["top", "inetOrgPerson"]),
                attr(&schema::UID, &["jdupont"]),
                attr(&schema::CN, &["Jean  Dupont"]),
                attr(&schema::SN, &["Dupont"]),
                attr(&schema::APEX_SIRET, &["73282932000074"]),
                attr(
                    &schema::MEMBER_OF,
                    &["cn=FICOBA:CONSULTATION,ou=profiles,dc=apex,dc=fr"],
                ),
                attr(&schema::CREATE_TIMESTAMP, &["20240102030405Z"]),
            ],
        }
    }

    fn eval(f: &str) -> Tri {
        evaluate(
            &parse_ldap_filter_str(f).unwrap_or_else(|e| panic!("{f}: {e:?}")),
            &entry(),
        )
    }

    #[test]
    fn every_filter_kind_evaluates() {
        use Tri::*;
        let cases = [
            ("(uid=JDUPONT)", True),
            ("(userid=jdupont)", True),
            ("(cn=jean*)", True),
            ("(cn=*an*du*nt)", True),
            ("(cn=*x*)", False),
            ("(name=dupont)", True),
            ("(objectClass=inetorgperson)", True),
            ("(objectClass=*)", True),
            ("(mail=*)", False),
            ("(nosuchattr=*)", False),
            ("(nosuchattr=x)", Undefined),
            ("(!(nosuchattr=x))", Undefined),
            ("(&(uid=jdupont)(nosuchattr=x))", Undefined),
            ("(|(uid=jdupont)(nosuchattr=x))", True),
            ("(&(uid=jdupont)(sn=martin))", False),
            ("(!(sn=martin))", True),
            ("(apexSiret>=7)", True),
            ("(createTimestamp>=20240101000000Z)", True),
            ("(createTimestamp<=20240101000000Z)", False),
            ("(createTimestamp>=garbage)", Undefined),
            ("(memberOf>=x)", Undefined),
            ("(sn~=DUPONT)", True),
            ("(sn:caseExactMatch:=Dupont)", True),
            ("(sn:caseExactMatch:=DUPONT)", False),
            ("(sn:caseIgnoreMatch:=DUPONT)", True),
            ("(sn:2.5.13.5:=DUPONT)", False),
            ("(:caseIgnoreMatch:=jdupont)", True),
            ("(ou:dn:caseIgnoreMatch:=PEOPLE)", True),
            ("(ou:caseIgnoreMatch:=PEOPLE)", False),
            ("(sn:nosuchRule:=x)", Undefined),
        ];
        for (f, expected) in cases {
            assert_eq!(eval(f), expected, "{f}");
        }
    }

    #[test]
    fn spaces_are_insignificant_in_case_ignore_values() {
        let f = LdapFilter::Equality("cn".into(), " JEAN dupont ".into());
        assert_eq!(evaluate(&f, &entry()), Tri::True);
        let f = LdapFilter::Equality("apexSiret".into(), "7328 2932 000074".into());
        assert_eq!(evaluate(&f, &entry()), Tri::True);
        let dn = "CN=ficoba:consultation, OU=Profiles,DC=apex,DC=fr";
        let f = LdapFilter::Equality("memberOf".into(), dn.into());
        assert_eq!(evaluate(&f, &entry()), Tri::True);
    }

    #[test]
    fn unreadable_attributes_are_undefined() {
        let mut e = entry();
        e.readable = Some(vec![&schema::OBJECT_CLASS, &schema::UID]);
        let sn = LdapFilter::Present("sn".into());
        assert_eq!(evaluate(&sn, &e), Tri::Undefined);
        assert_eq!(evaluate(&LdapFilter::Not(Box::new(sn)), &e), Tri::Undefined);
        let uid = LdapFilter::Equality("uid".into(), "jdupont".into());
        assert_eq!(evaluate(&uid, &e), Tri::True);
    }

    #[test]
    fn elements_are_counted() {
        let f = parse_ldap_filter_str("(&(a=1)(|(b=2)(!(c=3))))").unwrap();
        assert_eq!(elements(&f), 6);
    }

    #[test]
    fn generalized_times_parse() {
        assert_eq!(parse_generalized_time("19700101000000Z"), Some(0));
        assert_eq!(parse_generalized_time("1970010101Z"), Some(3600));
        assert_eq!(parse_generalized_time("19700101010000+0100"), Some(0));
        assert_eq!(parse_generalized_time("19700101000000.5Z"), Some(0));
        assert_eq!(parse_generalized_time("1970013100000Z"), None);
        assert_eq!(parse_generalized_time("x"), None);
        assert_eq!(parse_generalized_time("19701301000000Z"), None);
    }
}
