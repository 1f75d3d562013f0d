//! Removing the metadata of JPEG, PNG and WebP images without touching their pixels.
//!
//! Why: a phone writes where a photo was taken (EXIF GPS), when, with which camera and often
//! whose it is into every picture it saves, and XMP repeats much of it. A photo posted to a room
//! would tell every member where it was taken. Signal and WhatsApp remove it; natter does too,
//! by default (SPEC §3 Media; `--keep-image-metadata` turns it off).
//!
//! How: the file is rewritten container by container (JPEG segments, PNG chunks, RIFF chunks),
//! copying byte for byte the parts needed to show the picture and leaving out the rest. No pixel
//! is decoded or re-encoded: the picture is exactly the one sent, and the work is a file copy.
//! What is kept is an allow-list, not a list of known metadata, so a vendor's own block (maker
//! data in JPEG APP12, a C2PA manifest in APP11 or a PNG `caBX` chunk) goes with the rest:
//! - JPEG keeps SOI and EOI, every frame, table, scan and restart marker with the entropy-coded
//!   data, APP0 JFIF (without a thumbnail, which may show the picture before it was cropped),
//!   APP2 ICC profiles and APP14 Adobe (its colour transform changes how the pixels decode). Out
//!   go APP1 Exif and XMP (extended XMP too), APP13 Photoshop/IPTC, every other APPn, COM
//!   comments, and whatever follows EOI: a Motion Photo's video or MPF's second images, which
//!   carry metadata of their own.
//! - PNG keeps the critical chunks and the ancillary ones that change how the image is shown
//!   (transparency, colour, physical size, animation), copied with their CRCs. Out go `eXIf`,
//!   `tEXt`, `zTXt`, `iTXt` (where XMP lives), `tIME` and every other ancillary chunk: decoders
//!   may ignore those by definition, so leaving them out changes no pixel.
//! - WebP keeps the image chunks (`VP8X`, `VP8 `, `VP8L`, `ALPH`, `ANIM`, `ANMF`, `ICCP`). Out go
//!   `EXIF`, `XMP ` and unknown chunks (readers ignore those too); `VP8X`'s EXIF and XMP flags and
//!   the RIFF size are made to match.
//! - The orientation is kept. A phone held upright stores the picture sideways with an EXIF
//!   Orientation tag; without the tag the photo shows sideways. When the first EXIF block (the
//!   one decoders read) has an Orientation other than 1, it is replaced by a minimal block that
//!   holds that tag only (26 bytes: a TIFF header and one IFD entry), never longer than the
//!   original. WebP gets it too: Chromium ignores EXIF orientation in WebP but WebKit applies
//!   it. Applying the orientation instead would mean rotating the pixels: re-encoding.
//!
//! Damaged files are rewritten, never refused, and never kept as they are. The SPEC stores an
//! image that does not decode, so a damaged one must not be refused here, and it must lose its
//! metadata all the same (a photo cut short after its EXIF block still holds its location). So
//! past the signature the walk is as tolerant as decoders are: bytes between JPEG segments are
//! skipped as libjpeg skips them, a kept segment cut short by the end of the file keeps what it
//! has, and at a structure nothing can follow (a JPEG segment length below 2) the walk stops and
//! the rest is left out: no decoder shows anything past that point either. Every loop consumes
//! input, so no input makes it panic or spin (`tests/it/fuzz_props.rs` checks both, and that a
//! second pass over the result changes nothing). A file that does not start with its format's
//! signature, which type detection has already ruled out, is left exactly as it is.
//!
//! Memory stays bounded whatever the file's size: it is read twice through a buffered reader,
//! once to [`plan`] (whether anything changes at all, the new size, and for WebP the RIFF size
//! and `VP8X` flags, which come before the chunks they describe) and once to [`write`]. Besides
//! the buffers, only one EXIF block is held, at most 64 KiB of it. A file with nothing to remove
//! is not rewritten at all.

use std::io::{self, BufRead, Write};

/// The image formats whose metadata is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

/// What the first pass over an image found: whether removing its metadata changes it, the size
/// it will have, and what the second pass writes before the chunks it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    changed: bool,
    size: u64,
    /// WebP: the RIFF size of the result.
    riff_size: Option<u32>,
    /// WebP: the `VP8X` flags of the result.
    vp8x_flags: Option<u8>,
}

impl Plan {
    /// Whether the image holds anything to remove (else it should be kept as it is).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The size of the image without its metadata, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The first pass: read `image` to the end and say what removing its metadata does.
pub fn plan(format: Format, image: impl BufRead) -> io::Result<Plan> {
    let mut input = Input::new(image);
    let mut measure = Measure::default();
    let walk = walk(format, &mut input, &mut measure, None)?;
    // Whatever the walk did not reach is left out, and counts as a change.
    input.skip(u64::MAX)?;
    let mut plan = Plan {
        changed: measure.put || measure.kept != input.consumed,
        size: measure.size,
        riff_size: None,
        vp8x_flags: None,
    };
    if let Some(declared) = walk.riff_size {
        // The result's RIFF chunk is within the original's, so its size fits where that one did.
        let size = u32::try_from(measure.size.saturating_sub(8)).map_err(io::Error::other)?;
        plan.changed |= size != declared;
        plan.riff_size = Some(size);
    }
    if let Some(flags) = walk.vp8x_flags {
        let kept = flags & !(VP8X_EXIF | VP8X_XMP);
        let planned = if walk.exif_written { kept | VP8X_EXIF } else { kept };
        plan.changed |= planned != flags;
        plan.vp8x_flags = Some(planned);
    }
    Ok(plan)
}

/// The second pass: write `image` (the same bytes [`plan`] read) without its metadata to `out`.
pub fn write(format: Format, plan: &Plan, image: impl BufRead, out: &mut impl Write) -> io::Result<()> {
    let mut input = Input::new(image);
    let mut output = Output { out, size: 0 };
    walk(format, &mut input, &mut output, Some(plan))?;
    if output.size != plan.size {
        return Err(io::Error::other("the image changed between the two passes that remove its metadata"));
    }
    Ok(())
}

/// Both passes over an image in memory: the image without its metadata.
pub fn strip(format: Format, image: &[u8]) -> io::Result<Vec<u8>> {
    let plan = plan(format, image)?;
    if !plan.changed() {
        return Ok(image.to_vec());
    }
    let mut out = Vec::with_capacity(usize::try_from(plan.size()).unwrap_or(0));
    write(format, &plan, image, &mut out)?;
    Ok(out)
}

/// What one walk over an image learnt (the second walk learns the same).
#[derive(Default)]
struct Walk {
    /// The first EXIF block has gone by: decoders read that one only, and so does the walk.
    exif_seen: bool,
    /// A minimal EXIF block holding the orientation was written in its place.
    exif_written: bool,
    /// WebP: the RIFF size the file declares.
    riff_size: Option<u32>,
    /// WebP: a `VP8X` chunk has gone by (only the first one is kept).
    vp8x_seen: bool,
    /// WebP: the flags of that `VP8X` chunk.
    vp8x_flags: Option<u8>,
}

fn walk<R: BufRead>(
    format: Format,
    input: &mut Input<R>,
    sink: &mut impl Sink,
    planned: Option<&Plan>,
) -> io::Result<Walk> {
    let mut walk = Walk::default();
    match format {
        Format::Jpeg => jpeg(input, sink, &mut walk)?,
        Format::Png => png(input, sink, &mut walk)?,
        Format::Webp => webp(input, sink, &mut walk, planned)?,
    }
    Ok(walk)
}

// ---- Where the bytes go ----

/// Receives the result: `keep` for bytes copied from the image in their order, `put` for new
/// bytes that replace some of it.
trait Sink {
    fn keep(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn put(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// `new` in place of the image's `old` bytes: a copy when they are the same, so a file
    /// stripped once has nothing to change the second time.
    fn replace(&mut self, old: &[u8], new: &[u8]) -> io::Result<()> {
        if old == new { self.keep(old) } else { self.put(new) }
    }
}

/// The first pass's sink: counts.
#[derive(Default)]
struct Measure {
    size: u64,
    kept: u64,
    put: bool,
}

impl Sink for Measure {
    fn keep(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.size += bytes.len() as u64;
        self.kept += bytes.len() as u64;
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.size += bytes.len() as u64;
        self.put = true;
        Ok(())
    }
}

/// The second pass's sink: writes.
struct Output<'w, W> {
    out: &'w mut W,
    size: u64,
}

impl<W: Write> Sink for Output<'_, W> {
    fn keep(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.size += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.keep(bytes)
    }
}

// ---- Where the bytes come from ----

/// The image, read forward once; counts what it consumed.
struct Input<R> {
    reader: R,
    consumed: u64,
}

impl<R: BufRead> Input<R> {
    fn new(reader: R) -> Self {
        Input { reader, consumed: 0 }
    }

    /// The buffered bytes (empty at the end of the image).
    fn fill(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.reader.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // Buffered now: this call does no I/O (and returning from inside the loop would hold
        // the borrow across the retry).
        self.reader.fill_buf()
    }

    fn consume(&mut self, count: usize) {
        self.reader.consume(count);
        self.consumed += count as u64;
    }

    /// Fill `buf` with the next bytes; fewer only at the end of the image. Returns how many.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let available = self.fill()?;
            if available.is_empty() {
                break;
            }
            let take = available.len().min(buf.len() - done);
            buf[done..done + take].copy_from_slice(&available[..take]);
            self.consume(take);
            done += take;
        }
        Ok(done)
    }

    fn byte(&mut self) -> io::Result<Option<u8>> {
        let mut byte = [0];
        Ok((self.read(&mut byte)? == 1).then_some(byte[0]))
    }

    /// Hand the next `count` bytes (fewer at the end of the image) to `to`. Returns how many.
    fn pass(&mut self, count: u64, mut to: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64> {
        let mut done = 0;
        while done < count {
            let available = self.fill()?;
            if available.is_empty() {
                break;
            }
            let take = usize::try_from(count - done).unwrap_or(usize::MAX).min(available.len());
            to(&available[..take])?;
            self.consume(take);
            done += take as u64;
        }
        Ok(done)
    }

    /// Keep the next `count` bytes. Returns how many there were.
    fn copy(&mut self, count: u64, sink: &mut impl Sink) -> io::Result<u64> {
        self.pass(count, |bytes| sink.keep(bytes))
    }

    /// Leave out the next `count` bytes. Returns how many there were.
    fn skip(&mut self, count: u64) -> io::Result<u64> {
        self.pass(count, |_| Ok(()))
    }

    /// The next `count` bytes, of which at most `limit` are held (the rest are skipped), and how
    /// many there were in all.
    fn take(&mut self, count: u64, limit: usize) -> io::Result<(Vec<u8>, u64)> {
        let held = usize::try_from(count).unwrap_or(usize::MAX).min(limit);
        let mut data = vec![0; held];
        let read = self.read(&mut data)?;
        data.truncate(read);
        let skipped = if read == held { self.skip(count - held as u64)? } else { 0 };
        Ok((data, read as u64 + skipped))
    }

    /// Keep every byte before the next `stop` byte, which is left unread. False when the image
    /// ends first.
    fn keep_until(&mut self, stop: u8, sink: &mut impl Sink) -> io::Result<bool> {
        loop {
            let available = self.fill()?;
            if available.is_empty() {
                return Ok(false);
            }
            let (before, found) = match available.iter().position(|&b| b == stop) {
                Some(at) => (at, true),
                None => (available.len(), false),
            };
            sink.keep(&available[..before])?;
            self.consume(before);
            if found {
                return Ok(true);
            }
        }
    }

    /// Keep everything that is left.
    fn copy_rest(&mut self, sink: &mut impl Sink) -> io::Result<()> {
        self.copy(u64::MAX, sink).map(drop)
    }
}

// ---- EXIF orientation ----

/// Most of an EXIF block that is read to find its orientation (IFD0 comes first in every writer
/// seen; a JPEG's whole APP1 segment fits).
const EXIF_READ_LIMIT: usize = 64 * 1024;

/// The Orientation tag (TIFF/EXIF, IFD0).
const ORIENTATION_TAG: u16 = 0x0112;
/// The TIFF type SHORT, the only one decoders take for the orientation.
const SHORT: u16 = 3;

/// The orientation (1–8) in a TIFF structure (EXIF without the `Exif\0\0` that JPEG puts in
/// front; tolerated in front here too, as some PNG and WebP writers add it). None when the
/// structure is not whole enough to hold [`minimal_exif`]'s 26 bytes or has no valid tag, so the
/// minimal block never makes a file longer.
fn orientation(tiff: &[u8]) -> Option<u16> {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    if tiff.len() < MINIMAL_EXIF_LEN {
        return None;
    }
    let big_endian = match tiff.get(..4)? {
        b"MM\0*" => true,
        b"II*\0" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let bytes: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big_endian { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) })
    };
    let ifd0 = usize::try_from(u32_at(4)?).ok()?;
    let entries = u16_at(ifd0)?;
    for index in 0..usize::from(entries) {
        // Out of bounds ends the search (`?`), so a huge count costs nothing.
        let entry = ifd0.checked_add(2)?.checked_add(index.checked_mul(12)?)?;
        if u16_at(entry)? == ORIENTATION_TAG {
            let (kind, count, value) = (u16_at(entry + 2)?, u32_at(entry + 4)?, u16_at(entry + 8)?);
            return (kind == SHORT && count == 1 && (1..=8).contains(&value)).then_some(value);
        }
    }
    None
}

/// The length of [`minimal_exif`].
const MINIMAL_EXIF_LEN: usize = 26;

/// A TIFF structure holding only `orientation`: header, IFD0 with one entry, no next IFD.
fn minimal_exif(orientation: u16) -> [u8; MINIMAL_EXIF_LEN] {
    let mut tiff = [0; MINIMAL_EXIF_LEN];
    tiff[..8].copy_from_slice(b"MM\0*\0\0\0\x08");
    tiff[8..10].copy_from_slice(&1u16.to_be_bytes());
    tiff[10..12].copy_from_slice(&ORIENTATION_TAG.to_be_bytes());
    tiff[12..14].copy_from_slice(&SHORT.to_be_bytes());
    tiff[14..18].copy_from_slice(&1u32.to_be_bytes());
    tiff[18..20].copy_from_slice(&orientation.to_be_bytes());
    tiff
}

/// The orientation worth keeping: one that turns or mirrors the picture (not 1, upright).
fn turned(tiff: &[u8]) -> Option<u16> {
    orientation(tiff).filter(|&o| o != 1)
}

// ---- JPEG ----

const TEM: u8 = 0x01;
const RST0: u8 = 0xD0;
const RST7: u8 = 0xD7;
const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP14: u8 = 0xEE;
const APP15: u8 = 0xEF;
const COM: u8 = 0xFE;

/// The APP0 JFIF header without a thumbnail: identifier, version, units, densities, and the
/// thumbnail's width and height (then zero).
const JFIF_LEN: usize = 14;

fn jpeg<R: BufRead>(input: &mut Input<R>, sink: &mut impl Sink, walk: &mut Walk) -> io::Result<()> {
    let mut start = [0; 2];
    let read = input.read(&mut start)?;
    if start[..read] != [0xFF, SOI] {
        sink.keep(&start[..read])?;
        return input.copy_rest(sink);
    }
    sink.keep(&start)?;
    let mut after_scan = None;
    loop {
        let marker = match after_scan.take() {
            Some(marker) => marker,
            None => match next_marker(input)? {
                Some(marker) => marker,
                None => return Ok(()),
            },
        };
        match marker {
            // The image ends here; what follows (a Motion Photo's video, MPF's second images) is
            // another file with metadata of its own.
            EOI => return sink.keep(&[0xFF, EOI]),
            TEM | RST0..=RST7 | SOI => {
                sink.keep(&[0xFF, marker])?;
                continue;
            }
            _ => {}
        }
        let mut length = [0; 2];
        if input.read(&mut length)? < 2 {
            return Ok(());
        }
        // A length counts its own two bytes: below that, no decoder finds the next segment.
        let Some(body) = u16::from_be_bytes(length).checked_sub(2) else { return Ok(()) };
        let header = [0xFF, marker, length[0], length[1]];
        match marker {
            APP0..=APP15 | COM => jpeg_app_segment(input, sink, walk, header, u64::from(body))?,
            SOS => {
                sink.keep(&header)?;
                input.copy(u64::from(body), sink)?;
                after_scan = entropy_coded_data(input, sink)?;
                if after_scan.is_none() {
                    return Ok(());
                }
            }
            _ => {
                // Frames, tables (DQT, DHT, DAC), DRI, DNL and the rest: what decodes the
                // picture, never metadata.
                sink.keep(&header)?;
                input.copy(u64::from(body), sink)?;
            }
        }
    }
}

/// The next marker between segments, past any bytes that are not one (left out: libjpeg skips
/// them too, "extraneous bytes before marker") and fill bytes. None at the end of the image.
fn next_marker<R: BufRead>(input: &mut Input<R>) -> io::Result<Option<u8>> {
    loop {
        match input.byte()? {
            None => return Ok(None),
            Some(0xFF) => {}
            Some(_) => continue,
        }
        let mut next = input.byte()?;
        while next == Some(0xFF) {
            next = input.byte()?;
        }
        match next {
            None => return Ok(None),
            // A stuffed zero outside a scan is not a marker.
            Some(0x00) => continue,
            Some(marker) => return Ok(Some(marker)),
        }
    }
}

/// Copy a scan's entropy-coded data (stuffed zeros and restart markers included) up to the
/// marker that ends it, read but not yet written. None when the image ends first.
fn entropy_coded_data<R: BufRead>(input: &mut Input<R>, sink: &mut impl Sink) -> io::Result<Option<u8>> {
    loop {
        if !input.keep_until(0xFF, sink)? {
            return Ok(None);
        }
        input.skip(1)?;
        let mut next = input.byte()?;
        while next == Some(0xFF) {
            // Fill bytes before a marker: copied as they are.
            sink.keep(&[0xFF])?;
            next = input.byte()?;
        }
        match next {
            None => {
                sink.keep(&[0xFF])?;
                return Ok(None);
            }
            Some(byte @ (0x00 | RST0..=RST7)) => sink.keep(&[0xFF, byte])?,
            Some(marker) => return Ok(Some(marker)),
        }
    }
}

/// An APPn or COM segment whose `header` (marker and length) has been read: kept, replaced or
/// left out by what its first bytes say it is.
fn jpeg_app_segment<R: BufRead, S: Sink>(
    input: &mut Input<R>,
    sink: &mut S,
    walk: &mut Walk,
    header: [u8; 4],
    body: u64,
) -> io::Result<()> {
    let marker = header[1];
    let mut head = [0; JFIF_LEN];
    let wanted = usize::try_from(body).unwrap_or(JFIF_LEN).min(JFIF_LEN);
    let read = input.read(&mut head[..wanted])?;
    let head = &head[..read];
    let rest = body - read as u64;
    let keep_whole = |input: &mut Input<R>, sink: &mut S| -> io::Result<()> {
        sink.keep(&header)?;
        sink.keep(head)?;
        input.copy(rest, sink).map(drop)
    };
    match marker {
        APP0 if head.starts_with(b"JFIF\0") => {
            if read == JFIF_LEN && rest > 0 {
                // A thumbnail follows the header: the header alone, saying there is none.
                let mut jfif = [0; 4 + JFIF_LEN];
                jfif[..4].copy_from_slice(&[0xFF, APP0, 0, 2 + JFIF_LEN as u8]);
                jfif[4..].copy_from_slice(head);
                jfif[4 + 12..].fill(0);
                sink.put(&jfif)?;
                input.skip(rest)?;
                Ok(())
            } else {
                keep_whole(input, sink)
            }
        }
        APP1 if head.starts_with(b"Exif\0") && !walk.exif_seen => {
            walk.exif_seen = true;
            let (tail, count) = input.take(rest, EXIF_READ_LIMIT)?;
            let mut old = Vec::with_capacity(header.len() + read + tail.len());
            old.extend_from_slice(&header);
            old.extend_from_slice(head);
            old.extend_from_slice(&tail);
            // `Exif\0\0` and the TIFF structure; a segment cut short holds no orientation worth
            // trusting.
            let orientation = if count == rest { old.get(10..).and_then(turned) } else { None };
            if let Some(orientation) = orientation {
                let mut new = Vec::with_capacity(10 + MINIMAL_EXIF_LEN);
                new.extend_from_slice(&[0xFF, APP1, 0, (2 + 6 + MINIMAL_EXIF_LEN) as u8]);
                new.extend_from_slice(b"Exif\0\0");
                new.extend_from_slice(&minimal_exif(orientation));
                sink.replace(&old, &new)?;
                walk.exif_written = true;
            }
            Ok(())
        }
        APP2 if head.starts_with(b"ICC_PROFILE\0") => keep_whole(input, sink),
        APP14 if head.starts_with(b"Adobe") => keep_whole(input, sink),
        _ => input.skip(rest).map(drop),
    }
}

// ---- PNG ----

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The ancillary chunks that change how the image is shown: transparency, colour (gamma,
/// chromaticities, sRGB, ICC, CICP and the HDR ones under both their spellings), significant
/// bits, background, histogram, pixel size, and APNG's animation.
const PNG_KEPT: [&[u8; 4]; 17] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"mDCv", b"cLLI", b"cLLi", b"sBIT", b"bKGD",
    b"hIST", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn png<R: BufRead>(input: &mut Input<R>, sink: &mut impl Sink, walk: &mut Walk) -> io::Result<()> {
    let mut signature = [0; 8];
    let read = input.read(&mut signature)?;
    if signature[..read] != PNG_SIGNATURE[..] {
        sink.keep(&signature[..read])?;
        return input.copy_rest(sink);
    }
    sink.keep(&signature)?;
    loop {
        let mut header = [0; 8];
        if input.read(&mut header)? < 8 {
            return Ok(());
        }
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        // The data and the CRC.
        let rest = u64::from(length) + 4;
        if &kind == b"IEND" {
            // The image ends here; what follows is not part of it.
            sink.keep(&header)?;
            input.copy(rest, sink)?;
            return Ok(());
        }
        if &kind == b"eXIf" && !walk.exif_seen {
            walk.exif_seen = true;
            let (data, count) = input.take(rest, EXIF_READ_LIMIT)?;
            let exif = &data[..data.len().min(length as usize)];
            if let Some(orientation) = turned(exif).filter(|_| count == rest) {
                let mut old = header.to_vec();
                old.extend_from_slice(&data);
                sink.replace(&old, &png_chunk(b"eXIf", &minimal_exif(orientation)))?;
                walk.exif_written = true;
            }
            continue;
        }
        // Critical chunks (an upper-case first letter) are needed to decode: always kept.
        if kind[0] & 0x20 == 0 || PNG_KEPT.contains(&&kind) {
            sink.keep(&header)?;
            input.copy(rest, sink)?;
        } else {
            input.skip(rest)?;
        }
    }
}

/// A whole PNG chunk: length, type, data, CRC.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(12 + data.len());
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

/// CRC-32 as PNG uses it (ISO 3309, reflected, polynomial 0xEDB88320); only ever over the few
/// bytes of a minimal `eXIf` chunk, so bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

// ---- WebP ----

/// `VP8X` flags (first byte of its data): an EXIF chunk, an XMP chunk.
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

/// The chunks that make the picture: the extended header, lossy and lossless bitstreams, alpha,
/// animation and its frames, the ICC profile.
const WEBP_KEPT: [&[u8; 4]; 6] = [b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];

fn webp<R: BufRead>(
    input: &mut Input<R>,
    sink: &mut impl Sink,
    walk: &mut Walk,
    planned: Option<&Plan>,
) -> io::Result<()> {
    let mut header = [0; 12];
    let read = input.read(&mut header)?;
    if read < 12 || &header[..4] != b"RIFF" || &header[8..] != b"WEBP" {
        sink.keep(&header[..read])?;
        return input.copy_rest(sink);
    }
    let declared = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    walk.riff_size = Some(declared);
    // The first pass writes the size as it is (the same length); the second the planned one.
    let mut new_header = header;
    if let Some(size) = planned.and_then(|p| p.riff_size) {
        new_header[4..8].copy_from_slice(&size.to_le_bytes());
    }
    sink.replace(&header, &new_header)?;
    // The chunks' bytes that the RIFF size declares (it counts `WEBP`); what follows them is not
    // part of the image.
    let mut left = u64::from(declared).saturating_sub(4);
    while left >= 8 {
        let mut chunk = [0; 8];
        if input.read(&mut chunk)? < 8 {
            return Ok(());
        }
        left -= 8;
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        // Data and its pad byte, within the RIFF.
        let body = (u64::from(size) + (u64::from(size) & 1)).min(left);
        left -= body;
        let count = match &chunk[..4] {
            b"VP8X" if !walk.vp8x_seen => {
                walk.vp8x_seen = true;
                sink.keep(&chunk)?;
                let mut flags = [0];
                if body > 0 && input.read(&mut flags)? == 1 {
                    walk.vp8x_flags = Some(flags[0]);
                    let new_flags = planned.and_then(|p| p.vp8x_flags).unwrap_or(flags[0]);
                    sink.replace(&flags, &[new_flags])?;
                    1 + input.copy(body - 1, sink)?
                } else {
                    0
                }
            }
            b"EXIF" if !walk.exif_seen => {
                walk.exif_seen = true;
                let (data, count) = input.take(body, EXIF_READ_LIMIT)?;
                let exif = &data[..data.len().min(size as usize)];
                // Only the extended format (VP8X first) may carry EXIF, with its flag set.
                let carried = count == body && walk.vp8x_flags.is_some();
                if let Some(orientation) = turned(exif).filter(|_| carried) {
                    let mut old = chunk.to_vec();
                    old.extend_from_slice(&data);
                    let mut new = b"EXIF".to_vec();
                    new.extend_from_slice(&(MINIMAL_EXIF_LEN as u32).to_le_bytes());
                    new.extend_from_slice(&minimal_exif(orientation));
                    sink.replace(&old, &new)?;
                    walk.exif_written = true;
                }
                count
            }
            kind if WEBP_KEPT.iter().any(|k| &k[..] == kind) => {
                sink.keep(&chunk)?;
                input.copy(body, sink)?
            }
            _ => input.skip(body)?,
        };
        if count < body {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- building test images ----

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// A TIFF structure with Orientation `orientation` and a second tag (a GPS IFD pointer with
    /// its IFD holding a latitude reference), in the byte order given.
    fn exif_tiff(orientation: u16, big_endian: bool) -> Vec<u8> {
        let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut tiff = if big_endian { b"MM\0*".to_vec() } else { b"II*\0".to_vec() };
        tiff.extend_from_slice(&u32b(8));
        tiff.extend_from_slice(&u16b(2));
        // Orientation, SHORT, 1.
        tiff.extend_from_slice(&u16b(0x0112));
        tiff.extend_from_slice(&u16b(3));
        tiff.extend_from_slice(&u32b(1));
        tiff.extend_from_slice(&u16b(orientation));
        tiff.extend_from_slice(&[0, 0]);
        // GPSInfo, LONG, 1, offset of the GPS IFD (8 + 2 + 24 + 4 = 38).
        tiff.extend_from_slice(&u16b(0x8825));
        tiff.extend_from_slice(&u16b(4));
        tiff.extend_from_slice(&u32b(1));
        tiff.extend_from_slice(&u32b(38));
        tiff.extend_from_slice(&u32b(0));
        // GPS IFD: GPSLatitudeRef "N".
        tiff.extend_from_slice(&u16b(1));
        tiff.extend_from_slice(&u16b(0x0001));
        tiff.extend_from_slice(&u16b(2));
        tiff.extend_from_slice(&u32b(2));
        tiff.extend_from_slice(b"N\0\0\0");
        tiff.extend_from_slice(&u32b(0));
        tiff
    }

    fn jpeg_exif(orientation: u16) -> Vec<u8> {
        let mut body = b"Exif\0\0".to_vec();
        body.extend_from_slice(&exif_tiff(orientation, false));
        segment(APP1, &body)
    }

    /// The parts of a baseline JPEG a decoder needs (contents abridged: the walk does not
    /// decode), with `extra` segments after the JFIF one.
    fn jpeg_with(extra: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0xFF, SOI];
        out.extend(segment(APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        for part in extra {
            out.extend_from_slice(part);
        }
        out.extend(jpeg_image_data());
        out
    }

    fn jpeg_image_data() -> Vec<u8> {
        let mut out = segment(0xDB, &[0; 65]);
        out.extend(segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]));
        out.extend(segment(0xC4, &[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        out.extend(segment(0xDD, &[0, 4]));
        out.extend(segment(SOS, &[1, 1, 0, 0, 63, 0]));
        // Entropy-coded data with a stuffed 0xFF and a restart marker.
        out.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, RST0, 0x56, 0xFF, EOI]);
        out
    }

    fn strip_ok(format: Format, bytes: &[u8]) -> Vec<u8> {
        let out = strip(format, bytes).expect("in memory");
        let again = plan(format, &out[..]).expect("in memory");
        assert!(!again.changed(), "a second pass still changes {out:?}");
        assert!(out.len() <= bytes.len());
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn png_image(extra: &[Vec<u8>]) -> Vec<u8> {
        let mut out = PNG_SIGNATURE.to_vec();
        out.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        for part in extra {
            out.extend_from_slice(part);
        }
        out.extend(png_chunk(b"IDAT", &[0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]));
        out.extend(png_chunk(b"IEND", &[]));
        out
    }

    fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_vec();
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn webp_image(flags: u8, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        body.extend(riff_chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        for chunk in chunks {
            body.extend_from_slice(chunk);
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    fn webp_vp8() -> Vec<u8> {
        riff_chunk(b"VP8 ", &[0x30, 0x01, 0x00, 0x9D, 0x01, 0x2A, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00])
    }

    // ---- EXIF ----

    #[test]
    fn orientation_is_read_in_both_byte_orders_and_only_when_valid() {
        assert_eq!(orientation(&exif_tiff(6, false)), Some(6));
        assert_eq!(orientation(&exif_tiff(8, true)), Some(8));
        assert_eq!(orientation(&[b"Exif\0\0".as_slice(), &exif_tiff(3, true)].concat()), Some(3));
        assert_eq!(orientation(&exif_tiff(0, false)), None);
        assert_eq!(orientation(&exif_tiff(9, false)), None);
        assert_eq!(orientation(&minimal_exif(5)), Some(5));
        assert_eq!(orientation(&minimal_exif(5)[..25]), None, "shorter than the minimal block");
        let mut far = exif_tiff(6, true);
        far[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(orientation(&far), None);
        let mut many = exif_tiff(6, true);
        many[8..10].copy_from_slice(&u16::MAX.to_be_bytes());
        many[10..12].copy_from_slice(&0x0100u16.to_be_bytes());
        assert_eq!(orientation(&many), None, "entries past the end are not read");
    }

    // ---- JPEG ----

    #[test]
    fn jpeg_loses_exif_xmp_iptc_comments_and_trailers_and_keeps_what_decodes() {
        let icc = segment(APP2, b"ICC_PROFILE\0\x01\x01profile");
        let adobe = segment(APP14, b"Adobe\0\x64\0\0\0\0\x01");
        let image = jpeg_with(&[
            jpeg_exif(1),
            segment(APP1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS</x:xmpmeta>"),
            segment(APP1, b"http://ns.adobe.com/xmp/extension/\0more"),
            icc.clone(),
            segment(APP2, b"MPF\0II*\0"),
            segment(0xED, b"Photoshop 3.0\08BIM\x04\x04"),
            segment(0xEC, b"Ducky"),
            adobe.clone(),
            segment(COM, b"taken at home"),
        ]);
        let mut with_trailer = image.clone();
        with_trailer.extend_from_slice(b"\xFF\xD8motion photo video");
        let out = strip_ok(Format::Jpeg, &with_trailer);
        let mut expected = vec![0xFF, SOI];
        expected.extend(segment(APP0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        expected.extend(icc);
        expected.extend(adobe);
        expected.extend(jpeg_image_data());
        assert_eq!(out, expected);
    }

    #[test]
    fn jpeg_orientation_is_kept_alone() {
        for orientation in 2..=8 {
            let image = jpeg_with(&[jpeg_exif(orientation), jpeg_exif(3)]);
            let out = strip_ok(Format::Jpeg, &image);
            let mut body = b"Exif\0\0".to_vec();
            body.extend_from_slice(&minimal_exif(orientation));
            assert_eq!(out, jpeg_with(&[segment(APP1, &body)]), "orientation {orientation}");
            assert!(!contains(&out, b"N\0\0\0"), "the GPS IFD is gone");
        }
        // Upright: no EXIF at all.
        assert_eq!(strip_ok(Format::Jpeg, &jpeg_with(&[jpeg_exif(1)])), jpeg_with(&[]));
    }

    #[test]
    fn jpeg_without_metadata_is_left_as_it_is() {
        let image = jpeg_with(&[segment(APP2, b"ICC_PROFILE\0\x01\x01")]);
        assert!(!plan(Format::Jpeg, &image[..]).unwrap().changed());
        assert_eq!(strip(Format::Jpeg, &image).unwrap(), image);
    }

    #[test]
    fn jfif_thumbnails_go() {
        let mut jfif = b"JFIF\0\x01\x02\0\0\x01\0\x01\x02\x01".to_vec();
        jfif.extend_from_slice(&[0xAB; 6]);
        let mut image = vec![0xFF, SOI];
        image.extend(segment(APP0, &jfif));
        image.extend(jpeg_image_data());
        let out = strip_ok(Format::Jpeg, &image);
        let mut expected = vec![0xFF, SOI];
        expected.extend(segment(APP0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"));
        expected.extend(jpeg_image_data());
        assert_eq!(out, expected);
    }

    #[test]
    fn progressive_scans_and_fill_bytes_are_copied() {
        let mut image = vec![0xFF, SOI];
        image.extend(segment(SOS, &[1, 1, 0, 0, 0, 0]));
        image.extend_from_slice(&[0x01, 0xFF, 0x00, 0xFF, 0xFF, 0xC4]);
        image.extend_from_slice(&[0x00, 0x04, 0xAA, 0xBB]);
        image.extend(segment(SOS, &[1, 1, 0, 1, 63, 0]));
        image.extend_from_slice(&[0x02, 0x03, 0xFF, EOI]);
        assert_eq!(strip_ok(Format::Jpeg, &image), image);
        assert!(!plan(Format::Jpeg, &image[..]).unwrap().changed());
    }

    #[test]
    fn damaged_jpegs_lose_their_metadata_and_keep_the_rest() {
        // Cut short inside the entropy-coded data (no EOI): kept as far as it goes.
        let whole = jpeg_with(&[jpeg_exif(6)]);
        let cut = &whole[..whole.len() - 3];
        let out = strip_ok(Format::Jpeg, cut);
        assert!(!contains(&out, b"N\0\0\0"));
        assert!(out.ends_with(&cut[cut.len() - 20..]));
        // Cut short inside the EXIF block: nothing of it stays.
        let cut = &whole[..40];
        assert_eq!(strip_ok(Format::Jpeg, cut), whole[..20].to_vec());
        // Bytes between segments are left out, as decoders skip them.
        let mut garbage = vec![0xFF, SOI, 0x12, 0x34];
        garbage.extend(jpeg_image_data());
        let mut clean = vec![0xFF, SOI];
        clean.extend(jpeg_image_data());
        assert_eq!(strip_ok(Format::Jpeg, &garbage), clean);
        // A length below 2: the walk stops there.
        let mut bogus = vec![0xFF, SOI];
        bogus.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x01]);
        bogus.extend(jpeg_image_data());
        assert_eq!(strip_ok(Format::Jpeg, &bogus), vec![0xFF, SOI]);
        // Not a JPEG at all: left as it is.
        assert_eq!(strip_ok(Format::Jpeg, b"GIF89a"), b"GIF89a".to_vec());
        assert_eq!(strip_ok(Format::Jpeg, b""), Vec::<u8>::new());
    }

    // ---- PNG ----

    #[test]
    fn png_loses_text_time_and_exif_chunks_and_keeps_the_rest() {
        let kept = [
            png_chunk(b"sRGB", &[0]),
            png_chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]),
            png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]),
            png_chunk(b"iCCP", b"icc\0\0profile"),
            png_chunk(b"tRNS", &[0, 0]),
        ];
        let dropped = [
            png_chunk(b"tEXt", b"Author\0Alice"),
            png_chunk(b"zTXt", b"Comment\0\0x"),
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta>GPS</x:xmpmeta>"),
            png_chunk(b"tIME", &[7, 0xE9, 1, 2, 3, 4, 5]),
            png_chunk(b"eXIf", &exif_tiff(1, true)),
            png_chunk(b"caBX", b"c2pa manifest"),
        ];
        let mut parts: Vec<Vec<u8>> = kept.to_vec();
        parts.extend(dropped.iter().cloned());
        let mut image = png_image(&parts);
        image.extend_from_slice(b"PK\x03\x04 appended zip");
        let out = strip_ok(Format::Png, &image);
        assert_eq!(out, png_image(&kept));
    }

    #[test]
    fn png_orientation_is_kept_alone_with_a_valid_crc() {
        let image = png_image(&[png_chunk(b"eXIf", &exif_tiff(6, true)), png_chunk(b"tEXt", b"a\0b")]);
        let out = strip_ok(Format::Png, &image);
        assert_eq!(out, png_image(&[png_chunk(b"eXIf", &minimal_exif(6))]));
        // The CRC of a chunk known to be right (the IEND every PNG ends with).
        assert_eq!(png_chunk(b"IEND", &[]), b"\0\0\0\0IEND\xAE\x42\x60\x82");
    }

    #[test]
    fn png_without_metadata_is_left_as_it_is_and_damage_is_tolerated() {
        let image = png_image(&[png_chunk(b"sRGB", &[0])]);
        assert!(!plan(Format::Png, &image[..]).unwrap().changed());
        // Cut short in the IDAT: kept as far as it goes.
        let with_text = png_image(&[png_chunk(b"tEXt", b"GPS\0here")]);
        let cut = &with_text[..with_text.len() - 16];
        let out = strip_ok(Format::Png, cut);
        assert!(!contains(&out, b"here"));
        assert!(out.ends_with(&cut[cut.len() - 10..]));
        // A length past the end of the file.
        let mut huge = png_image(&[]);
        huge.truncate(33);
        huge.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, b't', b'E', b'X', b't', b'x']);
        assert_eq!(strip_ok(Format::Png, &huge), huge[..33].to_vec());
    }

    // ---- WebP ----

    #[test]
    fn webp_loses_exif_and_xmp_and_its_flags_and_size_follow() {
        let exif = riff_chunk(b"EXIF", &exif_tiff(1, false));
        let xmp = riff_chunk(b"XMP ", b"<x:xmpmeta>GPS</x:xmpmeta>!");
        let image = webp_image(0x20 | VP8X_EXIF | VP8X_XMP, &[riff_chunk(b"ICCP", b"icc"), webp_vp8(), exif, xmp]);
        let out = strip_ok(Format::Webp, &image);
        assert_eq!(out, webp_image(0x20, &[riff_chunk(b"ICCP", b"icc"), webp_vp8()]));
    }

    #[test]
    fn webp_orientation_is_kept_alone() {
        let exif = riff_chunk(b"EXIF", &[b"Exif\0\0".as_slice(), &exif_tiff(6, true)].concat());
        let image = webp_image(VP8X_EXIF | VP8X_XMP, &[webp_vp8(), exif, riff_chunk(b"XMP ", b"<x/>")]);
        let out = strip_ok(Format::Webp, &image);
        assert_eq!(out, webp_image(VP8X_EXIF, &[webp_vp8(), riff_chunk(b"EXIF", &minimal_exif(6))]));
    }

    #[test]
    fn simple_webp_is_left_as_it_is_and_trailers_go() {
        let mut simple = b"RIFF".to_vec();
        let vp8 = webp_vp8();
        simple.extend_from_slice(&((4 + vp8.len()) as u32).to_le_bytes());
        simple.extend_from_slice(b"WEBP");
        simple.extend(vp8);
        assert!(!plan(Format::Webp, &simple[..]).unwrap().changed());
        let mut trailer = simple.clone();
        trailer.extend_from_slice(b"EXIF\x04\0\0\0GPS!");
        assert_eq!(strip_ok(Format::Webp, &trailer), simple);
        // A RIFF size past the end of the file is made to match what is there.
        let mut long = simple.clone();
        long[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(strip_ok(Format::Webp, &long), simple);
    }

    #[test]
    fn reading_through_a_small_buffer_gives_the_same_result() {
        let image = jpeg_with(&[jpeg_exif(6), segment(COM, b"x")]);
        let whole = strip(Format::Jpeg, &image).unwrap();
        let plan = plan(Format::Jpeg, io::BufReader::with_capacity(3, &image[..])).unwrap();
        let mut out = Vec::new();
        write(Format::Jpeg, &plan, io::BufReader::with_capacity(1, &image[..]), &mut out).unwrap();
        assert_eq!(out, whole);
    }
}
