//! Finds the command block at the top of a responder's reply (SPEC §5): the lines
//! after any leading blank lines, up to the first empty line, a line `end`, a
//! signature (`-- `), or the start of quoted text (`>` lines, "On … wrote:" in the
//! languages mail clients use, Outlook's `From:`/`Sent:` block, `-----Original
//! Message-----`, a rule of underscores).
//!
//! It must not judge the lines: a block of prose comes back as lines so the grammar
//! can say why it is not a command. And it must never return quoted text: commands
//! quoted from an earlier letter must not run again.

use super::Line;

/// The command lines at the top of `body`, numbered as the responder sees them.
/// Empty when the reply has nothing above the quoted text.
pub fn extract_block(body: &str) -> Vec<Line> {
    let lines: Vec<String> = body.lines().map(normalize).collect();
    let start = match lines.iter().position(|l| !l.is_empty()) {
        Some(i) => i,
        None => return Vec::new(),
    };
    let mut block = Vec::new();
    for i in start..lines.len() {
        if ends_block(&lines, i) {
            break;
        }
        block.push(Line {
            number: i + 1,
            text: lines[i].clone(),
        });
    }
    block
}

/// Makes the spaces an HTML-to-text conversion leaves (NBSP, thin and ideographic
/// spaces, tabs) plain, drops zero-width characters, and trims.
pub(crate) fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => {}
            '\t' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => {
                out.push(' ')
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// True when line `i` (already normalized) is not a command line and nothing after it is.
fn ends_block(lines: &[String], i: usize) -> bool {
    let line = lines[i].as_str();
    let bare = line.trim_matches('*').trim();
    let lower = bare.to_lowercase();
    line.is_empty()
        || lower == "end"
        || lower == "end."
        // `-- ` signatures, `-----Original Message-----` in any language,
        // `---------- Forwarded message ---------`
        || line.starts_with("--")
        || line.starts_with('>')
        || (line.chars().count() >= 3 && line.chars().all(|c| c == '_' || c == '='))
        || lower.starts_with("begin forwarded message")
        || is_attribution(lines, i)
        || is_header_block(lines, i)
}

/// Words that open a client's "On <date>, <name> wrote:" line, by language.
const OPENERS: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "em ", "op ", "den ", "w dniu ", "dne ", "в ",
];

/// The "wrote" of those lines, by language.
const WROTE: &[&str] = &[
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "escreveu",
    "schreef",
    "skrev",
    "napisał",
    "pisze",
    "napsal",
    "написал",
    "kirjoitti",
    "写道",
];

/// "On Mon, 3 Jun 2024, Ann <ann@x.org> wrote:" and its localized forms, also when
/// the client wrapped it over two or three lines.
fn is_attribution(lines: &[String], i: usize) -> bool {
    let first = lines[i].trim_matches('*').to_lowercase();
    let opens = OPENERS.iter().any(|o| first.starts_with(o)) || first.contains("写道");
    if !opens {
        return false;
    }
    let mut joined = first;
    for k in 0..3 {
        if k > 0 {
            match lines.get(i + k) {
                Some(l) if !l.is_empty() => {
                    joined.push(' ');
                    joined.push_str(&l.trim_matches('*').to_lowercase());
                }
                _ => break,
            }
        }
        let ends_colon = joined.ends_with(':') || joined.ends_with('：');
        if ends_colon && WROTE.iter().any(|w| joined.contains(w)) {
            return true;
        }
    }
    false
}

/// Labels that open Outlook's quoted header block, by language.
const FROM_LABELS: &[&str] = &["from", "von", "de", "da", "van", "från", "fra", "od", "от"];

/// Labels that follow the first one in that block.
const NEXT_LABELS: &[&str] = &[
    "sent",
    "date",
    "to",
    "subject",
    "cc",
    "gesendet",
    "datum",
    "an",
    "betreff",
    "envoyé",
    "à",
    "objet",
    "enviado",
    "enviado el",
    "para",
    "asunto",
    "inviato",
    "oggetto",
    "a",
    "verzonden",
    "aan",
    "onderwerp",
    "skickat",
    "till",
    "ämne",
    "sendt",
    "til",
    "emne",
    "wysłano",
    "data",
    "do",
    "temat",
    "отправлено",
    "кому",
    "тема",
];

/// `From: …` followed within five lines by `Sent: …`/`Date: …`/`To: …` (Outlook and
/// friends; in HTML-converted mail the labels may be `*bold*`).
fn is_header_block(lines: &[String], i: usize) -> bool {
    let is_from = header_label(&lines[i]).is_some_and(|l| FROM_LABELS.contains(&l.as_str()));
    is_from
        && lines[i + 1..]
            .iter()
            .take(5)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| header_label(l))
            .any(|l| NEXT_LABELS.contains(&l.as_str()))
}

/// The lowercased `Label` of a `Label: value` line (`*Label:*` too), if it looks like one.
fn header_label(line: &str) -> Option<String> {
    let s = line.trim_start_matches('*');
    let colon = s.find(':')?;
    let label = s[..colon].trim_end_matches('*').trim();
    let plausible = !label.is_empty()
        && label.chars().count() <= 20
        && label.chars().all(|c| c.is_alphabetic() || c == ' ');
    plausible.then(|| label.to_lowercase())
}
