//! Synthetic media for tests.

/// An H.264 Annex-B access unit that parses as such: SPS + PPS + IDR slice for a keyframe, a
/// non-IDR slice otherwise, padded to `size` bytes with the frame number `n`, which also ends
/// it so a receiver can tell frames apart. Not decodable pictures: for transport tests only.
pub fn h264_access_unit(n: u8, key: bool, size: usize) -> Vec<u8> {
    let mut au = Vec::with_capacity(size + 24);
    if key {
        au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, n]);
        au.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
        au.extend_from_slice(&[0, 0, 0, 1, 0x65, n]);
    } else {
        au.extend_from_slice(&[0, 0, 0, 1, 0x41, n]);
    }
    au.extend(std::iter::repeat_n(n, size));
    au
}
