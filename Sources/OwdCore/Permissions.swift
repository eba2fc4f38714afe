import CJansson
import CSQLite

/// User profiles and per-stack permissions (section 7).
extension Store {
    static func userNotFound(_ arn: String) -> OwdError {
        .notFound("Unable to find user with ARN \(arn)")
    }

    func profileExists(_ c: Connection, _ arn: String) throws -> Bool {
        let s = try c.prepare("SELECT 1 FROM user_profiles WHERE iam_user_arn=?")
        s.bind(1, arn)
        defer { s.reset() }
        return try s.step()
    }

    func createUserProfile(_ r: CreateUserProfileRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try access.checkEmbedder()
        let arn = r.iamUserArn
        // AWS names the profile after the user: the last segment of the ARN.
        let name = String(arn.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(arn))
        var members: [(String, Value)] = [("IamUserArn", .string(arn)), ("Name", .string(name))]
        members.append(("SshUsername", .string(r.sshUsername ?? name)))
        if let k = r.sshPublicKey { members.append(("SshPublicKey", .string(k))) }
        members.append(("AllowSelfManagement", .boolean(r.allowSelfManagement ?? false)))
        let body = try Value.object(members).jsonText()
        try engine.write { c, _ in
            if try profileExists(c, arn) {
                throw OwdError.validation("A user profile for \(arn) already exists")
            }
            let s = try c.prepare("INSERT INTO user_profiles(iam_user_arn, body) VALUES(?,?)")
            s.bind(1, arn).bind(2, body)
            try s.run()
        }
        return try Store.json(.object([("IamUserArn", .string(arn))]))
    }

    func describeUserProfiles(_ r: DescribeUserProfilesRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let arns = r.iamUserArns
        let items: [UnsafeMutablePointer<json_t>] = try engine.read { c in
            var bodies: [String] = []
            if let arns {
                var seen = Set<String>()
                let s = try c.prepare("SELECT body FROM user_profiles WHERE iam_user_arn=?")
                for arn in arns {
                    s.bind(1, arn)
                    defer { s.reset() }
                    guard try s.step() else { throw Store.userNotFound(arn) }
                    if seen.insert(arn).inserted { bodies.append(s.string(0) ?? "{}") }
                }
                // (3) unknown users before (4) the refusal.
                try access.checkEmbedder()
            } else {
                try access.checkEmbedder()
                let s = try c.prepare("SELECT body FROM user_profiles ORDER BY seq")
                defer { s.reset() }
                while try s.step() { bodies.append(s.string(0) ?? "{}") }
            }
            var out: [UnsafeMutablePointer<json_t>] = []
            do {
                for b in bodies { out.append(try JSON.loads(b)) }
            } catch {
                out.forEach { cjansson_decref($0) }
                throw error
            }
            return out
        }
        return try Store.list("UserProfiles", items)
    }

    func setPermission(_ r: SetPermissionRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let stackID = r.stackId
        let arn = r.iamUserArn
        try engine.write { c, change in
            let stack = try stackRow(c, stackID)
            guard try profileExists(c, arn) else { throw Store.userNotFound(arn) }
            try access.check(c, stack)
            if arn == caller {
                throw OwdError.validation("You cannot set your own permission level")
            }
            // The model types Level as a plain string: a wrong value is one of the operation's
            // other rules (5), after unknown IDs and the refusal.
            let level = try r.level.map { l -> Level in
                guard let level = Level(name: l) else {
                    throw OwdError.validation("Level must be one of deny, iam_only, show, deploy, manage, not \(l)")
                }
                return level
            }
            // A new permission without Level is iam_only; an existing one keeps what is not given.
            let s = try c.prepare("""
                INSERT INTO permissions(stack_id, iam_user_arn, level, allow_ssh, allow_sudo, change_seq)
                VALUES(?1, ?2, coalesce(?3, 'iam_only'), coalesce(?4, 0), coalesce(?5, 0), ?6)
                ON CONFLICT(stack_id, iam_user_arn) DO UPDATE SET
                  level = coalesce(?3, permissions.level), allow_ssh = coalesce(?4, permissions.allow_ssh),
                  allow_sudo = coalesce(?5, permissions.allow_sudo), change_seq = ?6
                """)
            s.bind(1, stackID).bind(2, arn).bind(3, level?.name)
            s.bind(4, r.allowSsh.map { $0 ? 1 : 0 })
            s.bind(5, r.allowSudo.map { $0 ? 1 : 0 })
            s.bind(6, change)
            try s.run()
        }
        return try Store.empty()
    }

    func describePermissions(_ r: DescribePermissionsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let stackID = r.stackId
        let arn = r.iamUserArn
        let grants = grants()
        let items: [UnsafeMutablePointer<json_t>] = try engine.read { c in
            if let stackID {
                _ = try stackRow(c, stackID)
            }
            if let arn, try !profileExists(c, arn) { throw Store.userNotFound(arn) }
            if let stackID {
                try access.check(grants, stackID: stackID)
            }
            var sql = "SELECT stack_id, iam_user_arn, allow_ssh, allow_sudo, level FROM permissions WHERE true"
            if stackID != nil { sql += " AND stack_id=?1" }
            if arn != nil { sql += " AND iam_user_arn=?2" }
            let s = try c.prepare(sql + " ORDER BY seq")
            if let stackID { s.bind(1, stackID) }
            if let arn { s.bind(2, arn) }
            defer { s.reset() }
            var out: [UnsafeMutablePointer<json_t>] = []
            do {
                while try s.step() {
                    let stack = s.string(0) ?? ""
                    let user = s.string(1) ?? ""
                    // Without a stack: only the stacks the caller manages (the caller's own
                    // permission on another stack is that stack's DescribePermissions too).
                    if stackID == nil && !access.allows(grants, stackID: stack) { continue }
                    out.append(try Store.json(.object([
                        ("StackId", .string(stack)), ("IamUserArn", .string(user)),
                        ("AllowSsh", .boolean(s.int(2) != 0)), ("AllowSudo", .boolean(s.int(3) != 0)),
                        ("Level", .string(s.string(4) ?? "")),
                    ])))
                }
            } catch {
                out.forEach { cjansson_decref($0) }
                throw error
            }
            return out
        }
        return try Store.list("Permissions", items)
    }
}
