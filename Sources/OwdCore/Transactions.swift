import CSQLite

/// Every operation is one transaction.
extension Engine {

    /// Runs `body` as one write transaction, then brings the cache up to it before the
    /// call returns, so every later call, on any thread, sees the change.
    func write<T>(_ body: (Connection, Int64) throws -> T) throws -> T {
        try writeLock.locked {
            let result = try writer.transaction(immediate: true) { () -> T in
                let change = try writer.scalar("SELECT value FROM meta WHERE key='change_seq'") + 1
                let result = try body(writer, change)
                let bump = try writer.prepare("UPDATE meta SET value=? WHERE key='change_seq'")
                bump.bind(1, change)
                try bump.run()
                return result
            }
            commits.committed()   // wakes PollCommands' waits (section 14)
            // The change is committed: the call succeeded, whatever happens next. Should
            // the cache fail to follow (memory ran out), the next read reloads it.
            do {
                try writer.transaction(immediate: false) { try load(writer) }
            } catch {
                cache.writing { $0.stale = true }
            }
            return result
        }
    }

    /// Runs `body` with a connection for reading (a read transaction: one snapshot).
    func read<T>(_ body: (Connection) throws -> T) throws -> T {
        if let reader {
            return try readLock.locked { try reader.transaction(immediate: false) { try body(reader) } }
        }
        return try writeLock.locked { try writer.transaction(immediate: false) { try body(writer) } }
    }

    /// Deletes a cached record inside a write transaction (`change` is the write's change
    /// number) and leaves a tombstone, so that every handle and every process forgets it
    /// on its next call. The one way to delete what the cache holds: DeleteStack, DeleteApp
    /// and the other deletions call it. A deployment takes its commands with it.
    func remove(_ c: Connection, change: Int64, _ kind: Tombstone.Kind, id: String, iamUserArn: String? = nil) throws {
        switch kind {
        case .stack:
            try c.prepare("DELETE FROM stacks WHERE id=?").bind(1, id).run()
        case .app:
            try c.prepare("DELETE FROM apps WHERE id=?").bind(1, id).run()
            try c.prepare("DELETE FROM app_versions WHERE app_id=?").bind(1, id).run()
        case .deployment:
            try c.prepare("DELETE FROM command_logs WHERE command_id IN (SELECT id FROM commands WHERE deployment_id=?)").bind(1, id).run()
            try c.prepare("DELETE FROM commands WHERE deployment_id=?").bind(1, id).run()
            try c.prepare("DELETE FROM deployments WHERE id=?").bind(1, id).run()
        case .permission:
            try c.prepare("DELETE FROM permissions WHERE stack_id=? AND iam_user_arn=?").bind(1, id).bind(2, iamUserArn).run()
        case .instance:
            // Its commands stay: history (section 12).
            try c.prepare("DELETE FROM instances WHERE id=?").bind(1, id).run()
        case .userProfile:
            try c.prepare("DELETE FROM user_profiles WHERE iam_user_arn=?").bind(1, id).run()
        }
        let s = try c.prepare("INSERT INTO tombstones(kind, id, iam_user_arn, change_seq) VALUES(?,?,?,?)")
        s.bind(1, kind.rawValue).bind(2, id).bind(3, iamUserArn).bind(4, change)
        try s.run()
    }
}

/// A deletion, as the change sequence carries it to the caches.
struct Tombstone {
    enum Kind: String {
        case stack, app, deployment, permission, instance
        case userProfile = "user_profile"
    }

    let kind: Kind
    /// The record's ID (a permission's: its stack's; a user profile's: its IAM user ARN).
    let id: String
    /// A permission's user.
    let iamUserArn: String?
}
