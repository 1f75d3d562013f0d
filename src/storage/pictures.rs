//! Decoding pictures: their size as shown, thumbnails and avatars (SPEC §3 "Profiles, avatars and
//! thumbnails"). Blocking code, called from `usecase::pictures` on its bounded threads.
//!
//! Why the `image` crate, with only PNG, JPEG, GIF and WebP: it is pure Rust (the Pi build needs
//! no C image libraries), it reads the four formats the allow-list stores as images, and with
//! its default features off it brings no other codec and no rayon. Its decoders read the EXIF
//! orientation that `image_metadata` keeps in the stored file (the minimal block written in place
//! of the original one), so the same tag is honoured here as in the browser.
//!
//! Why the header first: a decompression bomb is a small file that claims a huge picture (a PNG
//! of 100,000 × 100,000 is 40 GB of pixels). Its dimensions are read from the header, and past
//! `--max-image-pixels` nothing is decoded at all; below it, the decoder's own `Limits` bound what
//! it may allocate to what that many pixels need, so a file that lies in its header cannot make it
//! hold more either.
//!
//! Thumbnails are at most 640 px on their longer side and never larger than the original;
//! avatars are a 256 × 256 centre crop. Both are encoded from the pixels alone, so no metadata of
//! the original survives in them, and with the orientation applied, so they need no tag. Pictures
//! with transparency become lossless WebP (JPEG has no alpha); the rest JPEG at quality 80, a
//! twentieth of the original's bytes for a phone photo.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::media_folder::MediaKind;

/// The longer side of a thumbnail, at most.
pub const THUMBNAIL_SIDE: u32 = 640;
/// The side of an avatar.
pub const AVATAR_SIDE: u32 = 256;
/// JPEG quality of thumbnails and avatars: no visible loss at their size, ~50 KB for a photo.
const JPEG_QUALITY: u8 = 80;
/// Bytes a decoder may hold per pixel of the picture: 16-bit RGBA is 8, plus room for its own
/// buffers (a row, a palette, the compressed stream read ahead).
const BYTES_PER_PIXEL: u64 = 8;
const DECODER_SLACK: u64 = 16 << 20;

/// What the header of a picture says, before any pixel is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// As shown: width and height swapped when the orientation turns the picture by 90°.
    pub width: u32,
    pub height: u32,
    /// It has an alpha channel: its copies are WebP, not JPEG.
    pub alpha: bool,
}

impl Header {
    /// The kind a copy of this picture is encoded as.
    pub fn copy_kind(&self) -> MediaKind {
        if self.alpha { MediaKind::Webp } else { MediaKind::Jpeg }
    }
}

/// Why a picture gets no thumbnail.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("the picture has {pixels} pixels, more than the {max} allowed")]
    TooLarge { pixels: u64, max: u64 },
    #[error("the picture does not decode: {0}")]
    Decode(#[from] image::ImageError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a picture format")]
    NotPicture,
}

fn format_of(kind: MediaKind) -> Option<ImageFormat> {
    match kind {
        MediaKind::Png => Some(ImageFormat::Png),
        MediaKind::Jpeg => Some(ImageFormat::Jpeg),
        MediaKind::Gif => Some(ImageFormat::Gif),
        MediaKind::Webp => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Whether natter makes thumbnails of this kind.
pub fn is_picture(kind: MediaKind) -> bool {
    format_of(kind).is_some()
}

/// The decoder's limits for pictures of at most `max_pixels`.
fn limits(max_pixels: u64) -> Limits {
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_pixels.saturating_mul(BYTES_PER_PIXEL).saturating_add(DECODER_SLACK));
    limits
}

/// A decoder for the file at `path`, with its orientation, after checking its header against
/// `max_pixels`.
fn open(path: &Path, kind: MediaKind, max_pixels: u64) -> Result<(impl ImageDecoder, Orientation), PictureError> {
    let format = format_of(kind).ok_or(PictureError::NotPicture)?;
    let mut reader = ImageReader::with_format(BufReader::new(File::open(path)?), format);
    reader.limits(limits(max_pixels));
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels || pixels == 0 {
        return Err(PictureError::TooLarge { pixels, max: max_pixels });
    }
    // A tag that cannot be read leaves the picture as stored, as browsers do.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    Ok((decoder, orientation))
}

fn turns(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// The header of the picture at `path`: its size as shown. Reads the header only (a few KB).
pub fn header(path: &Path, kind: MediaKind, max_pixels: u64) -> Result<Header, PictureError> {
    let (decoder, orientation) = open(path, kind, max_pixels)?;
    let (width, height) = decoder.dimensions();
    let (width, height) = if turns(orientation) { (height, width) } else { (width, height) };
    Ok(Header { width, height, alpha: decoder.color_type().has_alpha() })
}

/// The picture at `path`, decoded (GIF: its first frame) and turned upright.
fn decode(path: &Path, kind: MediaKind, max_pixels: u64) -> Result<DynamicImage, PictureError> {
    let (decoder, orientation) = open(path, kind, max_pixels)?;
    let mut picture = DynamicImage::from_decoder(decoder)?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

/// The longer side scaled to `side` at most, never up; at least 1 px each way.
pub fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= side {
        return (width, height);
    }
    let scale = |n: u32| ((u64::from(n) * u64::from(side) + u64::from(longer) / 2) / u64::from(longer)).max(1) as u32;
    (scale(width), scale(height))
}

/// Write `picture` to `out` as `kind` (JPEG or WebP), through a temporary file renamed into
/// place, so a reader never finds half of it (and a crash leaves a temporary file that the start
/// sweep removes).
fn save(picture: &DynamicImage, kind: MediaKind, out: &Path) -> Result<u64, PictureError> {
    let temp = super::media_folder::temp_path(out.parent().unwrap_or(Path::new(".")));
    let result = (|| -> Result<u64, PictureError> {
        let file = crate::storage::file_modes::create_new_file(&temp)?;
        let mut writer = BufWriter::new(file);
        match kind {
            MediaKind::Webp => picture.to_rgba8().write_with_encoder(WebPEncoder::new_lossless(&mut writer))?,
            _ => picture.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut writer, JPEG_QUALITY))?,
        }
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        std::fs::rename(&temp, out)?;
        Ok(size)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A thumbnail of the picture at `path` written to `out` as `kind`: the longer side at most
/// [`THUMBNAIL_SIDE`], never upscaled.
pub fn thumbnail(
    path: &Path,
    kind: MediaKind,
    max_pixels: u64,
    out: &Path,
    out_kind: MediaKind,
) -> Result<(), PictureError> {
    let picture = decode(path, kind, max_pixels)?;
    let (width, height) = fit(picture.width(), picture.height(), THUMBNAIL_SIDE);
    let small = if (width, height) == (picture.width(), picture.height()) {
        picture
    } else {
        // `thumbnail` averages the pixels each output pixel covers: as sharp as a Lanczos filter
        // at this reduction, and several times faster on a 12-megapixel photo.
        let small = picture.thumbnail_exact(width, height);
        drop(picture);
        small
    };
    save(&small, out_kind, out)?;
    Ok(())
}

/// An avatar of the picture at `path`: its centre square, [`AVATAR_SIDE`] px a side (a smaller
/// picture is scaled up to it, so every avatar is the same size), written to `out` as `out_kind`.
pub fn avatar(
    path: &Path,
    kind: MediaKind,
    max_pixels: u64,
    out: &Path,
    out_kind: MediaKind,
) -> Result<(), PictureError> {
    let picture = decode(path, kind, max_pixels)?;
    let side = picture.width().min(picture.height());
    let x = (picture.width() - side) / 2;
    let y = (picture.height() - side) / 2;
    let square = picture.crop_imm(x, y, side, side);
    drop(picture);
    let square = if side > 4 * AVATAR_SIDE { square.thumbnail_exact(AVATAR_SIDE * 2, AVATAR_SIDE * 2) } else { square };
    let avatar = square.resize_exact(AVATAR_SIDE, AVATAR_SIDE, FilterType::Triangle);
    save(&avatar, out_kind, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_never_upscales_and_keeps_the_ratio() {
        assert_eq!(fit(4000, 3000, 640), (640, 480));
        assert_eq!(fit(3000, 4000, 640), (480, 640));
        assert_eq!(fit(320, 200, 640), (320, 200));
        assert_eq!(fit(100_000, 1, 640), (640, 1));
    }

    #[test]
    fn limits_follow_the_pixel_bound() {
        let l = limits(40_000_000);
        assert_eq!(l.max_alloc, Some(40_000_000 * 8 + (16 << 20)));
    }
}
