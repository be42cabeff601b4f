//! `.7z` attachments, for `archive` (the `sevenz-rust2` crate: LZMA, LZMA2, PPMd, bzip2,
//! deflate, the BCJ filters; not Deflate64 or BCJ2). 7z packs files in blocks (a solid
//! block holds many files, each decoded in full to reach the next) and keeps its
//! directory at the end, itself packed as a rule; both are bounded here before the crate
//! allocates for them: the directory's unpacked size is read from the archive first
//! ([`directory_size`]), each block's dictionary is limited, and reading ends when the
//! files passed would unpack to more than twice the archive's budget.

use std::io::Cursor;

use sevenz_rust2::{Archive, BlockDecoder, EncoderMethod, Error, Password};

use super::archive::{Files, MAX_ENTRIES, MAX_TOTAL, XZ_MEMORY_KIB};

/// Size of a 7z archive's directory once unpacked: ~2,500 files with their names, times
/// and checksums, more than the [`MAX_ENTRIES`] looked at. The reader's entries take ~100
/// times their bytes in the directory, so one that claims more is not opened.
const DIRECTORY_BYTES: u64 = 256 << 10;

/// The files of a 7z archive, block by block (a solid block holds many files, decoded
/// in turn). Files of an encrypted block are named and skipped; the directory must fit
/// [`DIRECTORY_BYTES`] (an encrypted directory: the archive is named, not read),
/// each decoder's dictionary [`XZ_MEMORY_KIB`]. Reading ends when the files passed would
/// unpack to more than twice the archive's budget, the same bound as a compressed tar.
pub(super) fn read_7z(bytes: &[u8], files: &mut Files<'_>) {
    match directory_size(bytes) {
        Some(size) if size <= DIRECTORY_BYTES => {}
        Some(_) => {
            files.problems.push(format!(
                "its directory is larger than {} KiB unpacked (more files than the \
                 {MAX_ENTRIES} looked at); not opened",
                DIRECTORY_BYTES >> 10
            ));
            return;
        }
        None => {
            files
                .problems
                .push("unreadable archive (damaged directory); not opened".to_string());
            return;
        }
    }
    let mut source = Cursor::new(bytes);
    let none = Password::empty();
    let archive = match Archive::read_with_memory_limit(&mut source, &none, XZ_MEMORY_KIB as usize)
    {
        Ok(a) => a,
        Err(e) => {
            files.problems.push(refusal(&e));
            return;
        }
    };
    if archive.files.len() > MAX_ENTRIES {
        files.problems.push(format!(
            "{} entries; only the first {MAX_ENTRIES} looked at",
            archive.files.len()
        ));
    }
    let looked_at = &archive.files[..archive.files.len().min(MAX_ENTRIES)];
    for (i, entry) in looked_at.iter().enumerate() {
        if entry.has_stream() && archive.is_file_encrypted(i) {
            files
                .problems
                .push(format!("{:?} is encrypted; not read", entry.name()));
        }
    }
    // The last file looked at that a block gives: reading stops after it.
    let last = looked_at
        .iter()
        .enumerate()
        .rev()
        .find(|(i, e)| e.has_stream() && !archive.is_file_encrypted(*i));
    let Some((_, last)) = last else {
        return;
    };
    let (mut unpacked, mut done) = (0u64, false);
    for (block, coders) in archive.blocks.iter().map(|b| &b.coders).enumerate() {
        if done {
            break;
        }
        if coders
            .iter()
            .any(|c| c.encoder_method_id() == EncoderMethod::ID_AES256_SHA256)
        {
            continue;
        }
        let decoder = BlockDecoder::new_with_memory_limit(
            1,
            XZ_MEMORY_KIB as usize,
            block,
            &archive,
            &none,
            &mut source,
        );
        let read = decoder.for_each_entries(&mut |entry, reader| {
            if entry.has_stream() && !entry.is_directory() {
                unpacked = unpacked.saturating_add(entry.size());
                done = !files.read(entry.name(), reader);
                if !done && unpacked > 2 * MAX_TOTAL {
                    files.problems.push(format!(
                        "more than {} bytes to unpack up to {:?}; the rest not read",
                        2 * MAX_TOTAL,
                        entry.name()
                    ));
                    done = true;
                }
            }
            done |= std::ptr::eq(entry, last);
            Ok(!done)
        });
        if let Err(e) = read {
            files.problems.push(format!(
                "block {block} {}; its unread files skipped",
                trouble(&e)
            ));
        }
    }
}

/// Why a 7z archive's directory was not read.
fn refusal(e: &Error) -> String {
    match e {
        Error::PasswordRequired | Error::MaybeBadPassword(_) => {
            "its directory is encrypted; not opened".to_string()
        }
        e => format!("unreadable archive: {}; not opened", trouble(e)),
    }
}

/// What went wrong reading a 7z archive, in words.
fn trouble(e: &Error) -> String {
    match e {
        Error::MaxMemLimited { max_kb, actaul_kb } => format!(
            "needs {} MiB of memory to unpack (more than {} MiB)",
            actaul_kb.div_ceil(1024),
            max_kb / 1024
        ),
        Error::UnsupportedCompressionMethod(method) => {
            format!("is packed with {method}, which closeloop does not unpack")
        }
        e => format!("damaged ({e})"),
    }
}

/// How large a 7z archive's directory is once unpacked, read from the archive before the
/// 7z reader allocates its entries (the reader bounds a directory only by the memory
/// limit its dictionaries need, far more than the entries should take). The start header
/// names where the directory is and its size as stored; a stored directory that is
/// packed itself (`kEncodedHeader`) says its unpacked size among its coders' output
/// sizes, of which this takes the largest. None when damaged.
fn directory_size(bytes: &[u8]) -> Option<u64> {
    let at = |range: std::ops::Range<usize>| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(range)?.try_into().ok()?))
    };
    let (offset, size) = (at(12..20)?, at(20..28)?);
    let start = usize::try_from(offset.checked_add(32)?).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    let mut h = Header(bytes.get(start..end)?);
    const K_HEADER: u8 = 0x01;
    const K_ENCODED_HEADER: u8 = 0x17;
    match h.byte()? {
        K_HEADER => Some(size),
        K_ENCODED_HEADER => h.streams_largest_unpack_size(),
        _ => None,
    }
}

/// A reader of the 7z format's directory records (7-Zip's `7zFormat.txt`).
struct Header<'a>(&'a [u8]);

impl Header<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        self.0 = self.0.get(usize::try_from(n).ok()?..)?;
        Some(())
    }

    /// A 7z number: the first byte's high bits say how many bytes follow.
    fn number(&mut self) -> Option<u64> {
        let first = self.byte()?;
        let mut value = 0u64;
        let mut mask = 0x80u8;
        for i in 0..8 {
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Some(value | (high << (8 * i)));
            }
            value |= u64::from(self.byte()?) << (8 * i);
            mask >>= 1;
        }
        Some(value)
    }

    /// The largest output size named in a `StreamsInfo` record (`PackInfo`, then
    /// `UnPackInfo` with its folders' coders and their output sizes).
    fn streams_largest_unpack_size(&mut self) -> Option<u64> {
        const END: u8 = 0x00;
        const PACK_INFO: u8 = 0x06;
        const UNPACK_INFO: u8 = 0x07;
        const SIZE: u8 = 0x09;
        const CRC: u8 = 0x0a;
        const FOLDER: u8 = 0x0b;
        const UNPACK_SIZE: u8 = 0x0c;
        let mut id = self.byte()?;
        if id == PACK_INFO {
            self.number()?; // where the packed streams start
            let streams = self.number()?;
            loop {
                match self.byte()? {
                    END => break,
                    SIZE => (0..streams).try_for_each(|_| self.number().map(drop))?,
                    CRC => self.digests(streams)?,
                    _ => return None,
                }
            }
            id = self.byte()?;
        }
        if id != UNPACK_INFO || self.byte()? != FOLDER {
            return None;
        }
        let folders = self.number()?;
        if self.byte()? != 0 {
            return None; // folders kept elsewhere: not written by any packer
        }
        let mut outputs = Vec::new();
        for _ in 0..folders.min(self.0.len() as u64) {
            outputs.push(self.folder_outputs()?);
        }
        if self.byte()? != UNPACK_SIZE {
            return None;
        }
        let sizes = outputs
            .iter()
            .try_fold(0u64, |all, &n| all.checked_add(n))?;
        let mut largest = 0;
        for _ in 0..sizes {
            largest = largest.max(self.number()?);
        }
        Some(largest)
    }

    /// One folder's coders; gives how many output streams they have.
    fn folder_outputs(&mut self) -> Option<u64> {
        let (mut inputs, mut outputs) = (0u64, 0u64);
        for _ in 0..self.number()? {
            let flags = self.byte()?;
            self.skip(u64::from(flags & 0x0f))?; // the method id
            let (i, o) = if flags & 0x10 != 0 {
                (self.number()?, self.number()?)
            } else {
                (1, 1)
            };
            inputs = inputs.checked_add(i)?;
            outputs = outputs.checked_add(o)?;
            if flags & 0x20 != 0 {
                let len = self.number()?;
                self.skip(len)?; // the coder's properties
            }
        }
        let bound = outputs.checked_sub(1)?;
        for _ in 0..bound.min(self.0.len() as u64) {
            self.number()?;
            self.number()?;
        }
        let packed = inputs.checked_sub(bound)?;
        if packed > 1 {
            for _ in 0..packed.min(self.0.len() as u64) {
                self.number()?;
            }
        }
        Some(outputs)
    }

    /// CRC digests of `n` streams: all defined, or a bit for each, then four bytes each.
    fn digests(&mut self, n: u64) -> Option<()> {
        let defined = if self.byte()? != 0 {
            n
        } else {
            let bits = self.0.get(..usize::try_from(n.div_ceil(8)).ok()?)?;
            let set: u32 = bits.iter().map(|b| b.count_ones()).sum();
            self.skip(n.div_ceil(8))?;
            u64::from(set)
        };
        self.skip(defined.checked_mul(4)?)
    }
}
