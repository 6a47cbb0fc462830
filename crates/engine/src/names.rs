//! Ids and generated names.
//!
//! Ids are 64 hex digits, never all-digit in their short form (so a short id is never
//! mistaken for a number). Generated names are `adjective_surname`, like Podman's.

use rand::RngExt;

pub fn new_id() -> String {
    loop {
        let bytes: [u8; 32] = rand::rng().random();
        let id = hex::encode(bytes);
        if !id[..12].chars().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "affectionate",
    "amazing",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "confident",
    "cool",
    "dazzling",
    "determined",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "black",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "bouman",
    "brattain",
    "brown",
    "burnell",
    "cannon",
    "carson",
    "cerf",
    "chandrasekhar",
    "chaplygin",
    "chatterjee",
    "clarke",
    "colden",
    "cori",
    "cray",
    "curie",
    "darwin",
    "davinci",
    "dijkstra",
    "dubinsky",
    "easley",
    "einstein",
    "elgamal",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "gagarin",
    "galileo",
    "gates",
    "gauss",
    "germain",
    "goldberg",
    "goldstine",
    "goodall",
    "hamilton",
    "haslett",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hofstadter",
    "hopper",
    "hypatia",
    "jackson",
    "jennings",
    "johnson",
    "joliot",
    "kalam",
    "keller",
    "kepler",
    "khayyam",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lovelace",
    "lumiere",
    "mahavira",
    "margulis",
    "maxwell",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "mestorf",
    "mirzakhani",
    "montalcini",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "robinson",
    "roentgen",
    "rosalind",
    "saha",
    "sammet",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "sutherland",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "villani",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

/// A random `adjective_surname`; the caller retries on a collision.
pub fn random_name(attempt: u32) -> String {
    let mut rng = rand::rng();
    let a = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let s = SURNAMES[rng.random_range(0..SURNAMES.len())];
    if attempt < 5 {
        format!("{a}_{s}")
    } else {
        format!("{a}_{s}{}", rng.random_range(0..1000))
    }
}

/// Podman's rule for user-given names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
/// `KEY=VALUE` labels (`KEY` alone is an empty value), later ones winning; an empty key is
/// refused. Shared by containers, pods, volumes and networks.
pub fn parse_labels<'a>(
    labels: impl IntoIterator<Item = &'a str>,
    into: &mut std::collections::BTreeMap<String, String>,
) -> crate::error::Result<()> {
    for l in labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(crate::error::Error::invalid(format!(
                "invalid label {l:?}: empty key"
            )));
        }
        into.insert(k.to_string(), v.to_string());
    }
    Ok(())
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(new_id(), id);
        assert!(random_name(0).contains('_'));
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }
}
