//! What the relay asks of the operating system: the open-file limit, the space on the store's
//! filesystem and the Unix clock.

/// The open-file limit (soft, hard).
pub fn open_file_limit() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}

/// Raises the soft open-file limit to the hard limit (every connection is a file) and returns
/// both, as (soft before, soft now, hard).
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64, u64)> {
    let mut limit = open_file_limit()?;
    let before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, limit.rlim_cur, limit.rlim_max))
}

/// The size of the filesystem holding `path` and the bytes an unprivileged process may still
/// write there (statvfs: blocks and available blocks, times the fragment size).
// statvfs's field types differ across platforms (u64 here, u32 on some 32-bit targets).
#[allow(clippy::unnecessary_cast)]
pub fn filesystem_space(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: the path is NUL-terminated; statvfs only writes the struct we pass.
    if unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    let fragment = stat.f_frsize as u64;
    Ok((stat.f_blocks as u64 * fragment, stat.f_bavail as u64 * fragment))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
