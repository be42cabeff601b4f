//! What reading a message costs before any SQL: hashing, parsing, and
//! scanning its text, attachments and forwarded original. Both the stage
//! bench and the loop bench's ceiling row measure this.

use sha2::Digest;

/// Reads one message as an intake would before its transaction; returns a
/// number that depends on every step, so none is optimised away.
pub fn hash_parse_scan(scanner: &closeloop::extract::Scanner, raw: &[u8]) -> usize {
    let sha = sha2::Sha256::digest(raw);
    let parsed = closeloop::parse::parse(raw);
    // The texts an intake scans: an inline forward's original is inside the text.
    let mut found = scanner.scan(&parsed.subject).len() + usize::from(sha[0]);
    found += scanner.scan(&parsed.text).len();
    let attached = closeloop::parse::ForwardStyle::Attached;
    if let Some(o) = parsed.original.as_ref().filter(|o| o.style == attached) {
        found += scanner.scan(&o.text).len();
    }
    for a in &parsed.attachments {
        found += scanner.scan(&a.text).len();
    }
    found
}
