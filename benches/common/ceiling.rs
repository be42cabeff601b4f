//! What reading a message costs before any SQL: hashing, parsing, and
//! scanning its text, attachments and forwarded original. Both the stage
//! bench and the loop bench's ceiling row measure this.

use sha2::Digest;

/// Reads one message as an intake would before its transaction; returns a
/// number that depends on every step, so none is optimised away.
pub fn hash_parse_scan(scanner: &closeloop::extract::Scanner, raw: &[u8]) -> usize {
    let sha = sha2::Sha256::digest(raw);
    let parsed = closeloop::parse::parse(raw);
    let mut found = scanner.scan(&parsed.text).len() + usize::from(sha[0]);
    for a in &parsed.attachments {
        found += scanner.scan(&a.text).len();
    }
    if let Some(o) = parsed.original.as_ref().filter(|o| o.text != parsed.text) {
        found += scanner.scan(&o.text).len();
    }
    found
}
