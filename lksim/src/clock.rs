//! Wall-clock time without `unsafe`: UTC from `SystemTime`, the local offset read from the
//! TZif file `/etc/localtime` (or `$TZ` when it names a zoneinfo file, e.g. `:Asia/Tokyo`),
//! as libc's localtime would.  A missing or unreadable zone file means UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second) of `secs` since the epoch plus `offset` seconds.
pub fn civil(secs: i64) -> (i32, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil inverse
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + if m <= 2 { 1 } else { 0 }) as i32;
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

fn zone_file() -> Option<Vec<u8>> {
    if let Ok(tz) = std::env::var("TZ") {
        let name = tz.trim_start_matches(':');
        if !name.is_empty() {
            let p = if name.starts_with('/') {
                name.to_string()
            } else {
                format!("/usr/share/zoneinfo/{name}")
            };
            if let Ok(b) = std::fs::read(p) {
                return Some(b);
            }
            return None; // a POSIX TZ string we do not parse: UTC
        }
    }
    std::fs::read("/etc/localtime").ok()
}

fn be32(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at + 4)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]) as i64)
}

/// The UTC offset in seconds at `t` from a TZif file (version 1 data block, which every
/// version carries first; good until 2038).
pub fn tzif_offset(b: &[u8], t: i64) -> Option<i64> {
    if b.get(0..4)? != b"TZif" {
        return None;
    }
    let n = |i: usize| be32(b, 20 + 4 * i).map(|v| v as usize);
    let (isutc, isstd, leap, timecnt, typecnt, _charcnt) =
        (n(0)?, n(1)?, n(2)?, n(3)?, n(4)?, n(5)?);
    let _ = (isutc, isstd, leap);
    let trans = 44;
    let idx = trans + 4 * timecnt;
    let types = idx + timecnt;
    if typecnt == 0 {
        return None;
    }
    let mut ti = 0usize;
    let mut found = false;
    for k in 0..timecnt {
        if be32(b, trans + 4 * k)? <= t {
            ti = *b.get(idx + k)? as usize;
            found = true;
        } else {
            break;
        }
    }
    if !found {
        // before the first transition: the first standard-time type
        ti = (0..typecnt)
            .find(|&k| b.get(types + 6 * k + 4) == Some(&0))
            .unwrap_or(0);
    }
    be32(b, types + 6 * ti)
}

/// Local time of `secs` since the epoch.
pub fn local_of(secs: i64) -> (i32, u32, u32, u32, u32, u32) {
    let off = zone_file().and_then(|b| tzif_offset(&b, secs)).unwrap_or(0);
    civil(secs + off)
}

/// Local time now as (year, month, day, hour, minute, second).
pub fn local_time() -> (i32, u32, u32, u32, u32, u32) {
    local_of((now_ms() / 1000) as i64)
}

/// `2026-12-01T09:30:00.123Z` for milliseconds since the epoch.
pub fn rfc3339_utc(ms: u64) -> String {
    let (y, mo, d, h, mi, s) = civil((ms / 1000) as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_796_117_999), (2026, 12, 1, 9, 39, 59));
        assert_eq!(rfc3339_utc(1_000), "1970-01-01T00:00:01.000Z");
    }
    #[test]
    fn tzif_offsets() {
        // a Tokyo-like zone: one type, +9 h, no transitions
        let mut b = b"TZif2".to_vec();
        b.resize(20, 0);
        for v in [0u32, 0, 0, 0, 1, 4] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&32_400i32.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(b"JST\0");
        assert_eq!(tzif_offset(&b, 0), Some(32_400));
        assert_eq!(tzif_offset(b"nope", 0), None);
        if let Ok(tokyo) = std::fs::read("/usr/share/zoneinfo/Asia/Tokyo") {
            assert_eq!(tzif_offset(&tokyo, 1_796_117_999), Some(32_400));
        }
    }
}
