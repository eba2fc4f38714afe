import CSQLite

/// The schema, its version, and the upgrades from every older version.
extension Engine {
    static let applicationID: Int32 = 0x6F77_6431   // "owd1"
    /// 1: the first schema. 2: app versions (rollback) and the app version a deployment
    /// deployed. 3: stacks and apps indexed by change, so a cache refresh never scans them.
    /// 4: tombstones, so that deletions reach every cache through the change sequence.
    /// 5: tags of stacks and layers (TagResource). 6: the agent protocol (section 14): when
    /// an instance's agent last polled, and the commands' logs.
    static let schemaVersion: Int32 = 6

    static func prepareSchema(_ c: Connection, path: String) throws {
        let appID = Int32(truncatingIfNeeded: try c.scalar("PRAGMA application_id"))
        if appID == 0 {
            // An empty file (checkFile refused any other SQLite file): make it a store,
            // unless another process made it one meanwhile (createSchema checks again).
            try useWAL(c, path: path)
            try createSchema(c, path: path)
            return try prepareSchema(c, path: path)
        }
        if appID != applicationID {
            throw OwdError.store("cannot open store \(path): not an owd store (SQLite application_id \(appID))")
        }
        let version = try c.schemaVersion()
        if version > schemaVersion {
            throw OwdError.store("cannot open store \(path): its schema version \(version) is newer than this library's (\(schemaVersion)); upgrade libowd")
        }
        // A store written in another journal mode (an older owd, a copy made by a tool)
        // becomes WAL: the separate reader connection and other processes rely on it.
        // A no-op (no lock, no write) when the store is WAL already.
        try useWAL(c, path: path)
        if version < schemaVersion {
            try upgrade(c, from: version)
        }
        _ = try c.scalar("SELECT count(*) FROM meta")   // a readable store, or a clear error now
    }

    static func useWAL(_ c: Connection, path: String) throws {
        let mode = try c.prepare("PRAGMA journal_mode=WAL")
        let wal = try mode.step() && mode.string(0) == "wal"
        mode.reset()
        guard wal else { throw OwdError.store("cannot open store \(path): WAL mode is not available") }
    }

    /// Schema version 1, as the first owd wrote it; later versions are the steps of `upgrades`.
    static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO meta VALUES('change_seq', 0);
        CREATE TABLE stacks(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, region TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
        CREATE TABLE layers(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX layers_stack ON layers(stack_id, seq);
        CREATE TABLE apps(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, body TEXT NOT NULL, change_seq INTEGER NOT NULL);
        CREATE INDEX apps_stack ON apps(stack_id, seq);
        CREATE TABLE instances(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, status TEXT NOT NULL, layer_ids TEXT NOT NULL, os TEXT,
            body TEXT NOT NULL);
        CREATE INDEX instances_stack ON instances(stack_id, seq);
        CREATE TABLE deployments(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, stack_id TEXT NOT NULL,
            app_id TEXT, created_at INTEGER NOT NULL, completed_at INTEGER, status INTEGER NOT NULL,
            command INTEGER NOT NULL, args BLOB NOT NULL, instance_ids TEXT NOT NULL, iam_user_arn TEXT,
            comment TEXT, custom_json TEXT, pending INTEGER NOT NULL, change_seq INTEGER NOT NULL);
        CREATE INDEX deployments_change ON deployments(change_seq);
        CREATE TABLE commands(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, deployment_seq INTEGER NOT NULL,
            deployment_id TEXT NOT NULL, stack_id TEXT NOT NULL, instance_id TEXT NOT NULL,
            created_at INTEGER NOT NULL, acknowledged_at INTEGER, completed_at INTEGER, status TEXT NOT NULL,
            exit_code INTEGER, log_url TEXT, type TEXT NOT NULL);
        CREATE INDEX commands_deployment ON commands(deployment_seq, seq);
        CREATE INDEX commands_instance ON commands(instance_id, deployment_seq);
        CREATE TABLE user_profiles(seq INTEGER PRIMARY KEY, iam_user_arn TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
        CREATE TABLE permissions(seq INTEGER PRIMARY KEY, stack_id TEXT NOT NULL, iam_user_arn TEXT NOT NULL,
            level TEXT NOT NULL, allow_ssh INTEGER NOT NULL, allow_sudo INTEGER NOT NULL,
            change_seq INTEGER NOT NULL, UNIQUE(stack_id, iam_user_arn));
        CREATE INDEX permissions_change ON permissions(change_seq);
        """

    /// A new store: version 1, then every upgrade step, so that the upgrade path is the
    /// one every store takes.
    static func createSchema(_ c: Connection, path: String = ":memory:") throws {
        try c.transaction(immediate: true) {
            // Several processes may open the same new file at once: each saw it empty, and
            // the first to take the write lock makes the store; the others only upgrade.
            if try c.scalar("PRAGMA application_id") != 0 { return }
            if try c.scalar("SELECT count(*) FROM sqlite_master") != 0 {
                throw OwdError.store("cannot open store \(path): not an owd store (an SQLite database of another program)")
            }
            try c.exec(schema)
            try c.exec("PRAGMA application_id=\(applicationID)")
            try c.setSchemaVersion(1)
        }
        try upgrade(c, from: 1)
    }

    /// The first schema a search_path names ("$user" skipped; quotes removed).
    static func firstSchema(_ searchPath: String) -> String? {
        for item in searchPath.split(separator: ",") {
            var name = String(item.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
            if name == "\"$user\"" || name == "$user" || name.isEmpty { continue }
            if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 {
                name = String(name.dropFirst().dropLast()).replacingAll("\"\"", with: "\"")
            } else {
                name = name.lowercased()
            }
            return name
        }
        return nil
    }

    /// The steps from version N to N + 1.
    static let upgrades: [Int32: String] = [
        1: """
            CREATE TABLE app_versions(app_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY(app_id, version)) WITHOUT ROWID;
            INSERT INTO app_versions SELECT id, 1, body FROM apps;
            ALTER TABLE deployments ADD COLUMN app_version INTEGER;
            """,
        2: """
            CREATE INDEX stacks_change ON stacks(change_seq);
            CREATE INDEX apps_change ON apps(change_seq);
            """,
        3: """
            CREATE TABLE tombstones(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, id TEXT NOT NULL,
                iam_user_arn TEXT, change_seq INTEGER NOT NULL);
            CREATE INDEX tombstones_change ON tombstones(change_seq);
            """,
        4: """
            CREATE TABLE tags(kind TEXT NOT NULL, id TEXT NOT NULL, stack_id TEXT NOT NULL, key TEXT NOT NULL,
                value TEXT NOT NULL, PRIMARY KEY(kind, id, key)) WITHOUT ROWID;
            CREATE INDEX tags_stack ON tags(stack_id);
            """,
        5: """
            ALTER TABLE instances ADD COLUMN agent_seen_at INTEGER;
            CREATE TABLE command_logs(command_id TEXT PRIMARY KEY, log TEXT NOT NULL) WITHOUT ROWID;
            """,
    ]

    /// Upgrades an older store in one transaction. Another process may be upgrading it at
    /// the same moment: the version is read again under the write lock.
    static func upgrade(_ c: Connection, from version: Int32) throws {
        try c.transaction(immediate: true) { try upgradeSteps(c, from: version) }
    }

    /// The upgrade steps, inside the caller's write transaction.
    static func upgradeSteps(_ c: Connection, from version: Int32) throws {
        var v = max(version, try c.schemaVersion())
        while v < schemaVersion {
            guard let step = upgrades[v] else {
                throw OwdError.store("the store's schema version \(v) is unknown to this library")
            }
            try c.exec(step)
            v += 1
        }
        try c.setSchemaVersion(schemaVersion)
    }

    /// Section 15: a PostgreSQL store lives in the first schema of the session's
    /// search_path (`?options=-csearch_path%3Dname` in the URI picks another; a schema it
    /// names that does not exist is created). The same
    /// tables as a file's, made by the same version-1 schema and upgrade steps
    /// (`Dialect.postgresDDL` gives their types), in one transaction; meta records the
    /// application id and the schema version (a file's PRAGMAs). Processes opening the
    /// same new database at once take turns on an advisory lock.
    static func preparePostgresSchema(_ c: Connection, uri: String) throws {
        let name = PGSession.redacted(uri)
        // READ COMMITTED: after waiting for another process's creation, see what it made.
        try c.transaction(immediate: true, lock: false) {
            try c.prepare("SELECT pg_advisory_xact_lock(hashtext('owd store ' || current_setting('search_path')))").run()
            if try c.scalar("SELECT current_schema() IS NULL") != 0 {
                // No schema of the search_path exists: make the first one it names.
                let path = try c.prepare("SHOW search_path")
                let first = try path.step() ? Engine.firstSchema(path.string(0) ?? "") : nil
                path.reset()
                guard let first else {
                    throw OwdError.store("cannot open store \(name): its search_path names no schema to hold the store's tables")
                }
                try c.exec("CREATE SCHEMA \"" + first.replacingAll("\"", with: "\"\"") + "\"")
            }
            if try c.scalar("SELECT to_regclass('meta') IS NULL") != 0 {
                try c.exec(schema)
                try c.prepare("INSERT INTO meta VALUES('application_id', ?), ('schema_version', 1)").bind(1, Int64(applicationID)).run()
            }
            let appID = try c.scalar("SELECT value FROM meta WHERE key='application_id'")
            if appID != Int64(applicationID) {
                throw OwdError.store("cannot open store \(name): not an owd store (its schema has a table meta of another program)")
            }
            let version = try c.schemaVersion()
            if version > schemaVersion {
                throw OwdError.store("cannot open store \(name): its schema version \(version) is newer than this library's (\(schemaVersion)); upgrade libowd")
            }
            if version < schemaVersion {
                _ = try c.scalar(Connection.writeLock)
                try upgradeSteps(c, from: version)
            }
        }
    }
}
