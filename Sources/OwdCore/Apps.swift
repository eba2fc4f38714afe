import CJansson

/// Apps (sections 6, 9, 11, 12): creation with AWS's defaults and the stack's uniqueness
/// rule, deletion (the history stays).
extension Store {
    /// Section 11: an app's Shortname when none is given: its Name in lowercase, without
    /// the characters other than `a-z0-9-_` (`SimpleJSP` -> `simplejsp`).
    static func shortname(fromName name: String) -> String {
        String(String.UnicodeScalarView(name.lowercased().unicodeScalars.filter {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }))
    }

    static func appDefaults(name: String) -> [(String, Value)] {
        let short = shortname(fromName: name)
        // A Name with nothing left to derive from leaves Shortname absent, as any member
        // without a value (section 1).
        return (short.isEmpty ? [] : [("Shortname", .string(short))]) + [("EnableSsl", .boolean(false))]
    }

    /// Section 11: no two apps of a stack share a Name. `except` is the app being updated.
    static func checkAppUnique(_ c: Connection, stackID: String, except: String?, name: String?) throws {
        guard let name else { return }
        if try count(c, "SELECT count(*) FROM apps WHERE stack_id=? AND id<>? AND json_extract(body, '$.Name')=?",
                     [stackID, except ?? "", name]) > 0 {
            throw OwdError.validation("There is already an app named \"\(name)\"")
        }
    }

    func createApp(_ r: CreateAppRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try createInStack(r.stackId, .app, access, body: { c, stack, _ in
            try Store.checkAppUnique(c, stackID: stack.id, except: nil, name: r.name)
            return try Store.kept(.object(Store.withDefaults(r.value.members, Store.appDefaults(name: r.name))), .app,
                                  dropping: ["StackId"])
        }, then: { c, id, body in
            let version = try c.prepare("INSERT INTO app_versions(app_id, version, body) VALUES(?, 1, ?)")
            version.bind(1, id).bind(2, body)
            try version.run()
        })
    }

    /// Section 12: the app and its versions go; its deployments and commands stay, visible
    /// by StackId, DeploymentIds, CommandIds and with no parameter. The tombstone makes
    /// every cache forget the app, so DescribeDeployments by its AppId is not found.
    func deleteApp(_ r: DeleteAppRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try engine.write { c, change in
            let stack = try stackRow(c, try stackOf(c, .app, r.appId))
            try access.check(c, stack)
            try engine.remove(c, change: change, .app, id: r.appId)
        }
        return try Store.empty()
    }
}
