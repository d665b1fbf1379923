//! Identifiers (logins): generated from the person's name, ASCII and readable.

use unicode_normalization::UnicodeNormalization;

/// Longest identifier base, before a collision suffix.
const MAX_BASE: usize = 20;

/// Folds a name to lower-case ASCII letters and digits ("Éloïse" -> "eloise",
/// "Œuvray" -> "oeuvray").
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfkd() {
        // Ligatures and letters that Unicode does not decompose would vanish otherwise.
        match c {
            'Œ' | 'œ' => out.push_str("oe"),
            'Æ' | 'æ' => out.push_str("ae"),
            'ß' | 'ẞ' => out.push_str("ss"),
            'Ø' | 'ø' => out.push('o'),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    out
}

/// The identifier base: first letter of the given name, then the family name.
pub fn base(given_name: &str, family_name: &str) -> String {
    let mut base: String = fold(given_name).chars().take(1).collect();
    base.push_str(&fold(family_name));
    base.truncate(MAX_BASE);
    if base.len() < 2 {
        base = format!("apex{base}");
    }
    base
}

/// The candidates in order: the base, then base2, base3, ...
pub fn candidates(base: &str) -> impl Iterator<Item = String> + '_ {
    std::iter::once(base.to_owned()).chain((2u32..).map(move |n| format!("{base}{n}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_ascii_and_readable() {
        assert_eq!(base("Éloïse", "Lefèvre-Château"), "elefevrechateau");
        assert_eq!(base("Jean", "D'Ormesson"), "jdormesson");
        assert_eq!(base("Zoë", "Œuvray"), "zoeuvray");
        assert_eq!(base("", "李"), "apex");
        assert!(base("Marie", "Tresbeaucouptroplongpourunidentifiant").len() <= MAX_BASE);
        let c: Vec<String> = candidates("jdupont").take(3).collect();
        assert_eq!(c, ["jdupont", "jdupont2", "jdupont3"]);
    }
}
