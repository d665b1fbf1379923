//! The attribute types the tree serves, with their matching syntax, and the subschema
//! entry's definitions read from `schema/*.ldif` at build time.

/// The standard schema elements the tree uses (RFC text).
const STANDARD_LDIF: &str = include_str!("../../schema/standard.ldif");
/// The apex* schema elements.
const APEX_LDIF: &str = include_str!("../../schema/apex.ldif");

/// How values of an attribute compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Directory string, caseIgnoreMatch (and IA5 strings, OIDs given by name).
    CaseIgnore,
    /// Directory string, caseExactMatch.
    CaseExact,
    /// Numeric string: spaces are insignificant.
    Numeric,
    /// Distinguished name: distinguishedNameMatch.
    Dn,
    /// Integer: integerMatch.
    Integer,
    /// Generalized time: generalizedTimeMatch and ordering.
    Time,
    /// Boolean: TRUE or FALSE.
    Boolean,
}

/// Whether an attribute is returned for `*` (user) or only for `+` or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A user attribute.
    User,
    /// An operational attribute.
    Operational,
}

/// One attribute type of the tree.
#[derive(Debug, PartialEq, Eq)]
pub struct AttrType {
    /// The canonical name, as returned.
    pub name: &'static str,
    /// Other names (RFC 4519 short and long forms).
    pub aliases: &'static [&'static str],
    /// The numeric OID.
    pub oid: &'static str,
    /// How its values compare.
    pub syntax: Syntax,
    /// User or operational.
    pub usage: Usage,
}

macro_rules! attr {
    ($name:expr, [$($alias:expr),*], $oid:expr, $syntax:ident, $usage:ident) => {
        AttrType {
            name: $name,
            aliases: &[$($alias),*],
            oid: $oid,
            syntax: Syntax::$syntax,
            usage: Usage::$usage,
        }
    };
}

/// `objectClass`.
pub static OBJECT_CLASS: AttrType = attr!("objectClass", [], "2.5.4.0", CaseIgnore, User);
/// `cn`.
pub static CN: AttrType = attr!("cn", ["commonName"], "2.5.4.3", CaseIgnore, User);
/// `sn`.
pub static SN: AttrType = attr!("sn", ["surname"], "2.5.4.4", CaseIgnore, User);
/// `givenName`.
pub static GIVEN_NAME: AttrType = attr!("givenName", ["gn"], "2.5.4.42", CaseIgnore, User);
/// `o`.
pub static O: AttrType = attr!("o", ["organizationName"], "2.5.4.10", CaseIgnore, User);
/// `ou`.
pub static OU: AttrType = attr!(
    "ou",
    ["organizationalUnitName"],
    "2.5.4.11",
    CaseIgnore,
    User
);
/// `description`.
pub static DESCRIPTION: AttrType = attr!("description", [], "2.5.4.13", CaseIgnore, User);
/// `businessCategory`.
pub static BUSINESS_CATEGORY: AttrType =
    attr!("businessCategory", [], "2.5.4.15", CaseIgnore, User);
/// `member`.
pub static MEMBER: AttrType = attr!("member", [], "2.5.4.31", Dn, User);
/// `uid`.
pub static UID: AttrType = attr!(
    "uid",
    ["userid"],
    "0.9.2342.19200300.100.1.1",
    CaseIgnore,
    User
);
/// `mail`.
pub static MAIL: AttrType = attr!(
    "mail",
    ["rfc822Mailbox"],
    "0.9.2342.19200300.100.1.3",
    CaseIgnore,
    User
);
/// `dc`.
pub static DC: AttrType = attr!(
    "dc",
    ["domainComponent"],
    "0.9.2342.19200300.100.1.25",
    CaseIgnore,
    User
);
/// `employeeType` (the role).
pub static EMPLOYEE_TYPE: AttrType = attr!(
    "employeeType",
    [],
    "2.16.840.1.113730.3.1.4",
    CaseIgnore,
    User
);
/// `labeledURI`.
pub static LABELED_URI: AttrType = attr!("labeledURI", [], "1.3.6.1.4.1.250.1.57", CaseExact, User);
/// `apexSiret`.
pub static APEX_SIRET: AttrType = attr!("apexSiret", [], "1.3.6.1.4.1.32473.1.1.1", Numeric, User);
/// `apexServiceId`.
pub static APEX_SERVICE_ID: AttrType = attr!(
    "apexServiceId",
    [],
    "1.3.6.1.4.1.32473.1.1.2",
    CaseIgnore,
    User
);
/// `apexProfile`.
pub static APEX_PROFILE: AttrType = attr!(
    "apexProfile",
    [],
    "1.3.6.1.4.1.32473.1.1.3",
    CaseIgnore,
    User
);
/// `apexAccountState`.
pub static APEX_ACCOUNT_STATE: AttrType = attr!(
    "apexAccountState",
    [],
    "1.3.6.1.4.1.32473.1.1.4",
    CaseIgnore,
    User
);
/// `entryUUID`.
pub static ENTRY_UUID: AttrType = attr!("entryUUID", [], "1.3.6.1.1.16.4", CaseIgnore, Operational);
/// `entryDN`.
pub static ENTRY_DN: AttrType = attr!("entryDN", [], "1.3.6.1.1.20", Dn, Operational);
/// `memberOf`.
pub static MEMBER_OF: AttrType = attr!("memberOf", [], "1.2.840.113556.1.2.102", Dn, Operational);
/// `createTimestamp`.
pub static CREATE_TIMESTAMP: AttrType = attr!("createTimestamp", [], "2.5.18.1", Time, Operational);
/// `modifyTimestamp`.
pub static MODIFY_TIMESTAMP: AttrType = attr!("modifyTimestamp", [], "2.5.18.2", Time, Operational);
/// `pwdChangedTime`.
pub static PWD_CHANGED_TIME: AttrType = attr!(
    "pwdChangedTime",
    [],
    "1.3.6.1.4.1.42.2.27.8.1.16",
    Time,
    Operational
);
/// `hasSubordinates`.
pub static HAS_SUBORDINATES: AttrType =
    attr!("hasSubordinates", [], "2.5.18.9", Boolean, Operational);
/// `subschemaSubentry`.
pub static SUBSCHEMA_SUBENTRY: AttrType =
    attr!("subschemaSubentry", [], "2.5.18.10", Dn, Operational);
/// `structuralObjectClass`.
pub static STRUCTURAL_OBJECT_CLASS: AttrType = attr!(
    "structuralObjectClass",
    [],
    "2.5.21.9",
    CaseIgnore,
    Operational
);
/// `attributeTypes` (subschema).
pub static ATTRIBUTE_TYPES: AttrType =
    attr!("attributeTypes", [], "2.5.21.5", CaseIgnore, Operational);
/// `objectClasses` (subschema).
pub static OBJECT_CLASSES: AttrType =
    attr!("objectClasses", [], "2.5.21.6", CaseIgnore, Operational);
/// `namingContexts` (rootDSE).
pub static NAMING_CONTEXTS: AttrType = attr!(
    "namingContexts",
    [],
    "1.3.6.1.4.1.1466.101.120.5",
    Dn,
    Operational
);
/// `supportedExtension` (rootDSE).
pub static SUPPORTED_EXTENSION: AttrType = attr!(
    "supportedExtension",
    [],
    "1.3.6.1.4.1.1466.101.120.7",
    CaseIgnore,
    Operational
);
/// `supportedControl` (rootDSE).
pub static SUPPORTED_CONTROL: AttrType = attr!(
    "supportedControl",
    [],
    "1.3.6.1.4.1.1466.101.120.13",
    CaseIgnore,
    Operational
);
/// `supportedSASLMechanisms` (rootDSE).
pub static SUPPORTED_SASL_MECHANISMS: AttrType = attr!(
    "supportedSASLMechanisms",
    [],
    "1.3.6.1.4.1.1466.101.120.14",
    CaseIgnore,
    Operational
);
/// `supportedLDAPVersion` (rootDSE).
pub static SUPPORTED_LDAP_VERSION: AttrType = attr!(
    "supportedLDAPVersion",
    [],
    "1.3.6.1.4.1.1466.101.120.15",
    Integer,
    Operational
);
/// `supportedFeatures` (rootDSE).
pub static SUPPORTED_FEATURES: AttrType = attr!(
    "supportedFeatures",
    [],
    "1.3.6.1.4.1.4203.1.3.5",
    CaseIgnore,
    Operational
);
/// `vendorName` (rootDSE).
pub static VENDOR_NAME: AttrType = attr!("vendorName", [], "1.3.6.1.1.4", CaseExact, Operational);
/// `vendorVersion` (rootDSE).
pub static VENDOR_VERSION: AttrType =
    attr!("vendorVersion", [], "1.3.6.1.1.5", CaseExact, Operational);

/// Every attribute type the tree serves.
pub static ALL: [&AttrType; 39] = [
    &OBJECT_CLASS,
    &CN,
    &SN,
    &GIVEN_NAME,
    &O,
    &OU,
    &DESCRIPTION,
    &BUSINESS_CATEGORY,
    &MEMBER,
    &UID,
    &MAIL,
    &DC,
    &EMPLOYEE_TYPE,
    &LABELED_URI,
    &APEX_SIRET,
    &APEX_SERVICE_ID,
    &APEX_PROFILE,
    &APEX_ACCOUNT_STATE,
    &ENTRY_UUID,
    &ENTRY_DN,
    &MEMBER_OF,
    &CREATE_TIMESTAMP,
    &MODIFY_TIMESTAMP,
    &PWD_CHANGED_TIME,
    &HAS_SUBORDINATES,
    &SUBSCHEMA_SUBENTRY,
    &STRUCTURAL_OBJECT_CLASS,
    &ATTRIBUTE_TYPES,
    &OBJECT_CLASSES,
    &NAMING_CONTEXTS,
    &SUPPORTED_EXTENSION,
    &SUPPORTED_CONTROL,
    &SUPPORTED_SASL_MECHANISMS,
    &SUPPORTED_LDAP_VERSION,
    &SUPPORTED_FEATURES,
    &VENDOR_NAME,
    &VENDOR_VERSION,
    // Known to the subschema only: never on an entry, but names a client may use.
    &NAME,
    &DISTINGUISHED_NAME,
];

/// `name` (the supertype of cn, sn, o, ou...).
pub static NAME: AttrType = attr!("name", [], "2.5.4.41", CaseIgnore, User);
/// `distinguishedName` (the supertype of member).
pub static DISTINGUISHED_NAME: AttrType = attr!("distinguishedName", [], "2.5.4.49", Dn, User);

/// The attribute type a description names (`cn`, `commonName`, `2.5.4.3`, `cn;lang-fr`);
/// options are ignored.
pub fn lookup(description: &str) -> Option<&'static AttrType> {
    let name = description.split(';').next().unwrap_or_default().trim();
    let name = name
        .strip_prefix("oid.")
        .or_else(|| name.strip_prefix("OID."))
        .unwrap_or(name);
    ALL.iter().copied().find(|t| {
        t.name.eq_ignore_ascii_case(name)
            || t.oid == name
            || t.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

impl AttrType {
    /// Whether `other` is this type or one of its subtypes (`name` covers cn, sn...).
    pub fn covers(&'static self, other: &'static AttrType) -> bool {
        std::ptr::eq(self, other)
            || (std::ptr::eq(self, &NAME)
                && [&CN, &SN, &GIVEN_NAME, &O, &OU]
                    .iter()
                    .any(|t| std::ptr::eq(*t, other)))
            || (std::ptr::eq(self, &DISTINGUISHED_NAME) && std::ptr::eq(other, &MEMBER))
    }
}

/// The definitions the subschema entry publishes, from both LDIF files.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    /// `attributeTypes` values.
    pub attribute_types: Vec<String>,
    /// `objectClasses` values.
    pub object_classes: Vec<String>,
}

/// Reads the `attributeTypes:` and `objectClasses:` values (or their cn=config names
/// `olcAttributeTypes:`, `olcObjectClasses:`) of the schema LDIF files (continuation
/// lines unfolded, comments skipped).
pub fn definitions() -> Definitions {
    let mut out = Definitions::default();
    for text in [STANDARD_LDIF, APEX_LDIF] {
        for (name, value) in ldif_values(text) {
            // apex.ldif is a cn=config schema entry (olc* names); standard.ldif is not.
            let name = name.strip_prefix("olc").unwrap_or(&name);
            if name.eq_ignore_ascii_case("attributeTypes") {
                out.attribute_types.push(value);
            } else if name.eq_ignore_ascii_case("objectClasses") {
                out.object_classes.push(value);
            }
        }
    }
    out
}

/// The `name: value` pairs of an LDIF text, with folded lines joined.
fn ldif_values(text: &str) -> Vec<(String, String)> {
    let mut logical: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some(last) = logical.last_mut() {
                last.push(' ');
                last.push_str(rest.trim_start());
            }
        } else if !line.trim().is_empty() {
            logical.push(line.to_owned());
        }
    }
    logical
        .into_iter()
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_served_is_defined_in_the_schema_files() {
        let defs = definitions();
        for t in ALL {
            let found = defs.attribute_types.iter().any(|d| {
                d.starts_with(&format!("( {} ", t.oid)) && d.contains(&format!("'{}'", t.name))
            });
            assert!(found, "{} ({}) missing from schema/*.ldif", t.name, t.oid);
        }
        for class in [
            "apexStructure",
            "apexService",
            "apexAccount",
            "apexApplication",
            "inetOrgPerson",
            "groupOfNames",
        ] {
            assert!(
                defs.object_classes
                    .iter()
                    .any(|d| d.contains(&format!("'{class}'"))),
                "{class}"
            );
        }
    }

    #[test]
    fn names_aliases_and_oids_resolve() {
        assert_eq!(lookup("CN").unwrap().name, "cn");
        assert_eq!(lookup("commonName;lang-fr").unwrap().name, "cn");
        assert_eq!(lookup("0.9.2342.19200300.100.1.1").unwrap().name, "uid");
        assert_eq!(lookup("apexsiret").unwrap().name, "apexSiret");
        assert!(lookup("userPassword").is_none());
    }
}
