import CJansson
import CSQLite

/// User profiles after creation (sections 7 and 12): the embedding program updates and
/// deletes any; a caller reads and updates its own when its profile allows self-management.
extension Store {
    /// A profile's stored members, or not found.
    func profileMembers(_ c: Connection, _ arn: String) throws -> [(String, Value)] {
        let s = try c.prepare("SELECT body FROM user_profiles WHERE iam_user_arn=?")
        s.bind(1, arn)
        let body: String
        do {
            defer { s.reset() }
            guard try s.step() else { throw Store.userNotFound(arn) }
            body = s.string(0) ?? "{}"
        }
        return try Store.members(ofJSONText: body)
    }

    func saveProfile(_ c: Connection, _ arn: String, _ members: [(String, Value)]) throws {
        let s = try c.prepare("UPDATE user_profiles SET body=? WHERE iam_user_arn=?")
        s.bind(1, try Value.object(members).jsonText()).bind(2, arn)
        try s.run()
    }

    func updateUserProfile(_ r: UpdateUserProfileRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            var members = try profileMembers(c, r.iamUserArn)
            try access.checkEmbedder()
            if let v = r.sshUsername { Store.set(&members, "SshUsername", .string(v)) }
            if let v = r.sshPublicKey { Store.set(&members, "SshPublicKey", .string(v)) }
            if let v = r.allowSelfManagement { Store.set(&members, "AllowSelfManagement", .boolean(v)) }
            try saveProfile(c, r.iamUserArn, members)
        }
        return try Store.empty()
    }

    /// The profile goes, with the user's permission on every stack, through tombstones: every
    /// handle and process stops granting them on its next call. Deployments the user made
    /// keep their IamUserArn (history).
    func deleteUserProfile(_ r: DeleteUserProfileRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let arn = r.iamUserArn
        try engine.write { c, change in
            _ = try profileMembers(c, arn)
            try access.checkEmbedder()
            let s = try c.prepare("SELECT stack_id FROM permissions WHERE iam_user_arn=? ORDER BY seq")
            s.bind(1, arn)
            var stacks: [String] = []
            do {
                defer { s.reset() }
                while try s.step() { stacks.append(s.string(0) ?? "") }
            }
            for stack in stacks { try engine.remove(c, change: change, .permission, id: stack, iamUserArn: arn) }
            try engine.remove(c, change: change, .userProfile, id: arn)
        }
        return try Store.empty()
    }

    /// The caller's own profile, for the My* operations: the embedding program has none
    /// (ValidationException); a caller without a profile is not found; a profile without
    /// self-management is refused (AWS: "an IAM user must have self-management enabled").
    func ownProfile(_ c: Connection, _ access: Access) throws -> (arn: String, members: [(String, Value)]) {
        guard let caller else {
            throw OwdError.validation("\(access.operation.rawValue) acts on the caller's own user profile: a store opened without an identity has none")
        }
        let members = try profileMembers(c, caller)
        guard members.contains(where: { $0.0 == "AllowSelfManagement" && $0.1 == .boolean(true) }) else {
            throw OwdError.accessDenied("User: \(caller) is not authorized to perform: opsworks:\(access.operation.rawValue) on resource: *")
        }
        return (caller, members)
    }

    func describeMyUserProfile(_ r: DescribeMyUserProfileRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let members: [(String, Value)] = try engine.read { c in try ownProfile(c, access).members }
        let shown = Set(["IamUserArn", "Name", "SshUsername", "SshPublicKey"])   // SelfUserProfile
        return try Store.json(.object([("UserProfile", .object(members.filter { shown.contains($0.0) }))]))
    }

    func updateMyUserProfile(_ r: UpdateMyUserProfileRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, _ in
            var (arn, members) = try ownProfile(c, access)
            if let v = r.sshPublicKey { Store.set(&members, "SshPublicKey", .string(v)) }
            try saveProfile(c, arn, members)
        }
        return try Store.empty()
    }
}
