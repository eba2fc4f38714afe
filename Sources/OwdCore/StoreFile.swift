import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Opening a store file: the checks made before SQLite touches it, and connection settings.
extension Engine {

    /// Creates a missing file with mode 0600 (CustomJson may hold secrets), and refuses a
    /// file that is not SQLite before SQLite touches it.
    static func checkFile(_ path: String) throws {
        // O_EXCL first, to know whether this call made the file: the directory entry of a
        // new file is synced, or a power cut could lose the whole store (SQLite syncs the
        // directory when it creates the -wal file, never for the database file itself).
        var fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let dir = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dir >= 0 { _ = fsync(dir); close(dir) }
        } else if errno == EEXIST {
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            let verb = access(path, F_OK) == 0 ? "open" : "create"
            throw OwdError.store("cannot \(verb) store \(path): \(reason)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw OwdError.store("cannot open store \(path): fstat failed") }
        if (st.st_mode & S_IFMT) != S_IFREG {
            throw OwdError.store("cannot open store \(path): not a regular file")
        }
        if st.st_size == 0 { return }   // an existing empty file is a new store
        // The 100-byte database header and the start of page 1's b-tree header.
        var header = [UInt8](repeating: 0, count: 108)
        let n = Glibc.read(fd, &header, 108)
        let magic = Array("SQLite format 3\0".utf8)
        guard n >= 16, Array(header[0..<16]) == magic else {
            throw OwdError.store("cannot open store \(path): not an owd store (not an SQLite database)")
        }
        guard n == 108 else {
            throw OwdError.store("cannot open store \(path): the file is truncated (\(st.st_size) bytes, shorter than an SQLite header)")
        }
        func be32(_ at: Int) -> UInt32 {
            UInt32(header[at]) << 24 | UInt32(header[at + 1]) << 16 | UInt32(header[at + 2]) << 8 | UInt32(header[at + 3])
        }
        var pageSize = Int(header[16]) << 8 | Int(header[17])
        if pageSize == 1 { pageSize = 65_536 }
        if pageSize < 512 || Int(st.st_size) % pageSize != 0 {
            throw OwdError.store("cannot open store \(path): the file is truncated or corrupt (\(st.st_size) bytes is not a whole number of \(pageSize)-byte pages)")
        }
        // The page count in the header is valid when its change counter matches the
        // version-valid-for number. A file shorter than that count was cut, unless a -wal
        // file holds frames (a checkpoint interrupted by a crash: SQLite finishes it).
        let headerPages = Int(be32(28))
        if headerPages > 0, be32(24) == be32(92), headerPages * pageSize > Int(st.st_size) {
            var wal = stat()
            if stat(path + "-wal", &wal) != 0 || wal.st_size <= 32 {
                throw OwdError.store("cannot open store \(path): the file is truncated (\(st.st_size) bytes; its header counts \(headerPages) pages of \(pageSize) bytes)")
            }
        }
        let appID = Int32(bitPattern: be32(68))
        let version = Int32(bitPattern: be32(60))
        // 0 with an empty schema in the file (page 1 is a table leaf with no cells) and no
        // user_version: an empty database, or a new store whose every commit still sits in
        // its -wal file (`journal_mode=WAL` writes this bare page 1; nothing else reaches
        // the file before the first checkpoint). prepareSchema reads it through the WAL and
        // tells them apart. 0 with anything in the file is another program's database:
        // refused here, before SQLite (which would switch it to WAL) touches it.
        let emptySchema = header[100] == 0x0D && header[103] == 0 && header[104] == 0 && version == 0
        if appID != applicationID && !(appID == 0 && emptySchema) {
            let what = appID == 0 ? "an SQLite database of another program" : "SQLite application_id \(appID)"
            throw OwdError.store("cannot open store \(path): not an owd store (\(what))")
        }
        if version > schemaVersion {
            throw OwdError.store("cannot open store \(path): its schema version \(version) is newer than this library's (\(schemaVersion)); upgrade libowd")
        }
    }

    /// SQLite reports a store in a read-only directory as a read-only or unopenable
    /// database: name the directory, which is what the caller must fix.
    static func explain(_ message: String, path: String) -> OwdError {
        let dir = directory(of: path)
        guard access(dir, W_OK) != 0 else { return .store(message) }
        return .store("cannot open store \(path): its directory \(dir) is not writable, and SQLite must create \(path)-wal and \(path)-shm beside it (\(message))")
    }

    static func directory(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0].isEmpty ? "/" : path[..<$0]) } ?? "."
    }

    /// A PostgreSQL session's settings: the busy timeout is how long a writer waits for
    /// the write lock (lock_timeout); durability is the server's synchronous_commit,
    /// except `.off` (tests), which turns it off for owd's sessions. bytea in hex, which
    /// Statement.blob decodes.
    static func postgresSettings(_ options: StoreOptions) -> String {
        // lock_timeout 0 would wait for ever; a busy timeout of 0 means not waiting.
        var s = "SET lock_timeout = \(max(1, options.busyTimeoutMs)); SET bytea_output = 'hex'; SET standard_conforming_strings = on"
        if options.durability == .off { s += "; SET synchronous_commit = off" }
        return s
    }

    static func configure(_ c: Connection, _ options: StoreOptions) throws {
        sqlite3_busy_timeout(c.db, options.busyTimeoutMs)
        let sync: String
        switch options.durability {
        case .full: sync = "FULL"
        case .normal: sync = "NORMAL"
        case .off: sync = "OFF"
        }
        try c.exec("PRAGMA synchronous=\(sync); PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY")
    }
}
