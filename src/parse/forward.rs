//! Inline-forward detection: finds the header block a mail client writes above an inline
//! forwarded message (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, Zimbra, Roundcube,
//! Android, in several languages) and splits it into the original's from / subject / date
//! and body. Lines quoted with `>` are understood.
//!
//! Pure text in, `Option<Original>` out. Must not know about MIME or HTML (callers render HTML
//! to text first) and must never panic; a block that does not look like a forward header is
//! left alone rather than guessed at.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

use super::{ForwardStyle, Original};

/// Blank lines allowed between the separator and the first header field.
const MAX_GAP: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Field {
    From,
    Date,
    Sent,
    Subject,
    To,
    Cc,
    MessageId,
    ReplyTo,
}

/// Localized header-field labels as mail clients print them (lowercase, without the colon).
fn field_for(label: &str) -> Option<Field> {
    let label = label.trim().to_lowercase();
    Some(match label.as_str() {
        "from" | "von" | "de" | "van" | "od" | "fra" | "da" | "från" | "frá" | "от"
        | "expéditeur" | "remitente" | "mittente" | "afzender" | "nadawca" | "lähettäjä"
        | "feladó" | "kimden" => Field::From,
        "date" | "datum" | "fecha" | "data" | "dato" | "päivämäärä" | "dátum" | "tarih"
        | "дата" => Field::Date,
        "sent"
        | "gesendet"
        | "envoyé"
        | "enviado"
        | "enviada"
        | "verzonden"
        | "inviato"
        | "skickat"
        | "wysłano"
        | "odesláno"
        | "sendt"
        | "lähetetty"
        | "elküldve"
        | "отправлено"
        | "gönderildi" => Field::Sent,
        "subject" | "betreff" | "objet" | "asunto" | "onderwerp" | "předmět" | "emne"
        | "oggetto" | "assunto" | "ämne" | "temat" | "tárgy" | "aihe" | "sujet" | "тема"
        | "konu" => Field::Subject,
        "to" | "an" | "à" | "a" | "para" | "aan" | "komu" | "til" | "till" | "do" | "per"
        | "címzett" | "vastaanottaja" | "кому" | "kime" => Field::To,
        "cc" | "kopie" | "copie" | "kopia" | "kopio" | "копия" | "bilgi" => Field::Cc,
        "message-id" | "message id" => Field::MessageId,
        "reply-to" | "antwort an" | "répondre à" | "responder a" | "rispondi a" => Field::ReplyTo,
        _ => return None,
    })
}

/// Separator phrases after which clients print the original's header block.
const APPLE_PHRASES: &[&str] = &[
    "begin forwarded message",
    "début du message réexpédié",
    "anfang der weitergeleiteten nachricht",
    "anfang der weitergeleiteten e-mail",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
    "início da mensagem reencaminhada",
    "begin doorgestuurd bericht",
    "vidarebefordrat brev",
    "videresendt melding",
    "začátek přeposlané zprávy",
    "początek przekazywanej wiadomości",
];
const OTHER_PHRASES: &[&str] = &[
    "forwarded message",
    "forwarded e-mail",
    "forwarded email",
    "original message",
    "weitergeleitete nachricht",
    "ursprüngliche nachricht",
    "message transféré",
    "message d'origine",
    "message original",
    "mensaje reenviado",
    "mensaje original",
    "doorgestuurd bericht",
    "oorspronkelijk bericht",
    "origineel bericht",
    "původní zpráva",
    "přeposlaná zpráva",
    "videresendt meddelelse",
    "videresendt besked",
    "oprindelig meddelelse",
    "messaggio inoltrato",
    "messaggio originale",
    "mensagem encaminhada",
    "mensagem original",
    "mensagem reencaminhada",
    "vidarebefordrat meddelande",
    "ursprungligt meddelande",
    "wiadomość przekazana dalej",
    "przekazana wiadomość",
    "oryginalna wiadomość",
    "wiadomość oryginalna",
    "välitetty viesti",
    "alkuperäinen viesti",
    "пересылаемое сообщение",
    "исходное сообщение",
];

/// Finds the first inline-forward header block in `text` and returns the original it
/// introduces, or None when the text holds no recognisable forward.
pub fn find_inline_forward(text: &str) -> Option<Original> {
    // `lines()` ends lines at LF and CRLF; only a lone CR or a no-break space
    // needs the text rewritten (most bodies have neither).
    let lone_cr = text
        .match_indices('\r')
        .any(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'));
    let no_break = |c: &str| memchr::memmem::find(text.as_bytes(), c.as_bytes()).is_some();
    let text = if lone_cr || no_break("\u{a0}") || no_break("\u{202f}") {
        Cow::Owned(
            text.replace("\r\n", "\n")
                .replace('\r', "\n")
                .replace(['\u{a0}', '\u{202f}'], " "),
        )
    } else {
        Cow::Borrowed(text)
    };
    let lines: Vec<Line<'_>> = text.lines().map(Line::new).collect();
    (0..lines.len()).find_map(|i| block_at(&lines, i))
}

/// A line with its `>` quote marks counted and removed.
struct Line<'a> {
    raw: &'a str,
    depth: usize,
    body: &'a str,
}

impl<'a> Line<'a> {
    fn new(line: &'a str) -> Self {
        let mut rest = line;
        let mut depth = 0;
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t']);
            match trimmed.strip_prefix('>') {
                Some(after) => {
                    depth += 1;
                    rest = after.strip_prefix(' ').unwrap_or(after);
                }
                None => break,
            }
        }
        let body = if depth == 0 { line } else { rest };
        Line {
            raw: line,
            depth,
            body,
        }
    }

    fn is_blank(&self) -> bool {
        self.body.trim().is_empty()
    }
}

fn separator_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let phrases: Vec<String> = APPLE_PHRASES
            .iter()
            .chain(OTHER_PHRASES)
            .map(|p| regex::escape(p).replace(' ', r"\s+"))
            .collect();
        Regex::new(&format!(
            r"(?i)^\s*(?P<lead>[-=_*\s]*?)(?P<phrase>{})(?P<trail>[-=_*\s]*)\s*:?\s*$",
            phrases.join("|")
        ))
        .unwrap()
    })
}

fn field_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*[*_]{0,2}\s*(?P<label>[^\s:*_<>@][^:*<>@]{0,24}?)\s*[*_]{0,2}\s*:\s*[*_]{0,2}\s*(?P<value>.*?)\s*$")
            .unwrap()
    })
}

fn parse_field(line: &str) -> Option<(Field, String)> {
    let caps = field_re().captures(line)?;
    let field = field_for(&caps["label"])?;
    let value = caps["value"].trim_matches(['*', ' ']).trim().to_string();
    Some((field, value))
}

/// Tries a forward block starting at line `i`: a separator line followed by header fields,
/// an Outlook underscore rule followed by fields, or an Outlook field block with no separator.
fn block_at(lines: &[Line<'_>], i: usize) -> Option<Original> {
    let line = &lines[i];
    let trimmed = line.body.trim();
    let (kind, fields_from) = if let Some(caps) = separator_re().captures(trimmed) {
        (
            Kind::Separator(caps["lead"].to_string(), caps["phrase"].to_string()),
            i + 1,
        )
    } else if trimmed.len() >= 8 && trimmed.chars().all(|c| c == '_') {
        (Kind::Rule, i + 1)
    } else if matches!(parse_field(line.body), Some((Field::From, _))) {
        (Kind::Bare, i)
    } else {
        return None;
    };
    let (fields, end, depth) = header_block(lines, fields_from, line.depth)?;
    let has = |f: Field| fields.iter().any(|(g, _)| *g == f);
    let ok = match kind {
        Kind::Separator(..) => fields.len() >= 2 && (has(Field::From) || has(Field::Subject)),
        Kind::Rule | Kind::Bare => {
            has(Field::From) && has(Field::Subject) && (has(Field::Sent) || has(Field::Date))
        }
    };
    if !ok {
        return None;
    }
    let get = |f: Field| {
        fields
            .iter()
            .find(|(g, v)| *g == f && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let from = get(Field::From).map(|f| clean_address(&f));
    let style = match &kind {
        Kind::Separator(lead, phrase) => separator_style(lead, phrase, from.as_deref()),
        Kind::Rule | Kind::Bare => "outlook",
    };
    let message_id = get(Field::MessageId).map(|id| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_string()
    });
    Some(Original {
        from,
        subject: get(Field::Subject),
        date: get(Field::Date).or_else(|| get(Field::Sent)),
        message_id,
        text: body_after(lines, end, depth),
        style: ForwardStyle::Inline(style),
    })
}

/// Header fields of a forward block, in the order shown.
type Fields = Vec<(Field, String)>;

enum Kind {
    Separator(String, String),
    Rule,
    Bare,
}

/// Reads header fields from line `start` (after at most MAX_GAP blank lines) until a blank or
/// non-field line. Returns the fields, the index of the first line after the block and the
/// quote depth of the fields (iOS quotes the fields below an unquoted separator).
fn header_block(lines: &[Line<'_>], start: usize, depth: usize) -> Option<(Fields, usize, usize)> {
    let mut fields: Fields = Vec::new();
    let mut fields_depth = depth;
    let mut gap = 0;
    let mut k = start;
    while let Some(line) = lines.get(k) {
        if line.depth < depth {
            break;
        }
        if line.is_blank() {
            if fields.is_empty() && gap < MAX_GAP {
                gap += 1;
                k += 1;
                continue;
            }
            break;
        }
        if let Some(field) = parse_field(line.body) {
            if fields.is_empty() {
                fields_depth = line.depth;
            }
            fields.push(field);
        } else if let Some((last, value)) = fields.last_mut().filter(|_| k - start < 24) {
            // Wrapped To/Cc lists and long subjects continue on the next line.
            let body = line.body.trim();
            let wraps = line.body.starts_with([' ', '\t'])
                || (matches!(last, Field::To | Field::Cc)
                    && (body.contains('@') || value.ends_with([',', ';'])));
            if !wraps {
                break;
            }
            value.push(' ');
            value.push_str(body);
        } else {
            break;
        }
        k += 1;
    }
    (!fields.is_empty()).then_some((fields, k, fields_depth))
}

/// The original's text: every line after the header block, with the block's quote depth
/// removed, leading blank lines dropped, trailing whitespace trimmed.
fn body_after(lines: &[Line<'_>], start: usize, depth: usize) -> String {
    let mut out = String::new();
    let mut started = false;
    for line in lines.iter().skip(start) {
        // quote marks deeper than the block's stay, one "> " each
        let (marks, text) = if depth == 0 || line.depth < depth {
            (0, line.raw)
        } else {
            (line.depth - depth, line.body)
        };
        if !started && marks == 0 && text.trim().is_empty() {
            continue;
        }
        if started {
            out.push('\n');
        }
        started = true;
        let from = out.len();
        for _ in 0..marks {
            out.push_str("> ");
        }
        out.push_str(text);
        let kept = out[from..].trim_end().len();
        out.truncate(from + kept);
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out
}

/// Names the client family from the separator's shape.
fn separator_style(lead: &str, phrase: &str, from: Option<&str>) -> &'static str {
    let lower = phrase.to_lowercase();
    if APPLE_PHRASES
        .iter()
        .any(|p| lower.split_whitespace().eq(p.split_whitespace()))
    {
        return "apple";
    }
    let dashes = lead.chars().filter(|&c| c == '-').count();
    let tight = !lead.ends_with([' ', '\t']);
    if tight && dashes == 5 {
        // "-----Original Message-----" and its translations.
        return "outlook";
    }
    if phrase.split_whitespace().eq(["Original", "message"]) {
        return "android";
    }
    match dashes {
        10.. => "gmail",
        8 | 9 if phrase.split_whitespace().eq(["Original", "Message"]) => "roundcube",
        8 | 9 => "thunderbird",
        5..=7 if from.is_some_and(|f| f.starts_with('"')) => "zimbra",
        5..=7 => "yahoo",
        _ => "generic",
    }
}

/// Tidies an address as mail clients print it: drops Outlook's `<mailto:...>` and
/// `[mailto:...]` duplicates.
fn clean_address(value: &str) -> String {
    static MAILTO: OnceLock<Regex> = OnceLock::new();
    static BRACKET: OnceLock<Regex> = OnceLock::new();
    let mailto = MAILTO.get_or_init(|| Regex::new(r"(?i)<mailto:[^>]*>").unwrap());
    let bracket = BRACKET.get_or_init(|| Regex::new(r"(?i)\[mailto:([^\]]*)\]").unwrap());
    let value = mailto.replace_all(value, "");
    let value = bracket.replace_all(&value, "<$1>");
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}
