import CJansson

/// Section 9: an app keeps at most five versions, the current one included. UpdateApp
/// adds a version; a rollback deployment discards the current one.
enum AppVersions {
    static let kept = 5

    static func current(_ c: Connection, _ appID: String) throws -> Int64 {
        let s = try c.prepare("SELECT max(version) FROM app_versions WHERE app_id=?")
        s.bind(1, appID)
        defer { s.reset() }
        _ = try s.step()
        return s.int(0)
    }

    /// Makes `body` the new current version, dropping the oldest beyond five.
    static func add(_ c: Connection, _ appID: String, body: String) throws {
        let next = try current(c, appID) + 1
        let s = try c.prepare("INSERT INTO app_versions(app_id, version, body) VALUES(?,?,?)")
        s.bind(1, appID).bind(2, next).bind(3, body)
        try s.run()
        let d = try c.prepare("DELETE FROM app_versions WHERE app_id=? AND version <= ?")
        d.bind(1, appID).bind(2, next - Int64(kept))
        try d.run()
        try setCurrent(c, appID, body)
    }

    /// Discards the current version; the one before becomes current. nil (and nothing
    /// changed) when only one version remains.
    static func rollBack(_ c: Connection, _ appID: String) throws -> Int64? {
        let s = try c.prepare("SELECT version, body FROM app_versions WHERE app_id=? ORDER BY version DESC LIMIT 2")
        s.bind(1, appID)
        var rows: [(Int64, String)] = []
        do {
            defer { s.reset() }
            while try s.step() { rows.append((s.int(0), s.string(1) ?? "{}")) }
        }
        guard rows.count == 2 else { return nil }
        let d = try c.prepare("DELETE FROM app_versions WHERE app_id=? AND version=?")
        d.bind(1, appID).bind(2, rows[0].0)
        try d.run()
        try setCurrent(c, appID, rows[1].1)
        return rows[1].0
    }

    private static func setCurrent(_ c: Connection, _ appID: String, _ body: String) throws {
        let u = try c.prepare("UPDATE apps SET body=? WHERE id=?")
        u.bind(1, body).bind(2, appID)
        try u.run()
    }
}

extension Store {
    /// UpdateApp: a new current version from the app's members with the update applied.
    func updateApp(_ r: UpdateAppRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let appID = r.appId
        let update = r.value.members.filter { $0.0 != "AppId" }
        try engine.write { c, _ in
            let stack = try stackRow(c, try stackOf(c, .app, appID))
            try access.check(c, stack)
            try Store.checkAppUnique(c, stackID: stack.id, except: appID, name: r.name)
            let s = try c.prepare("SELECT body FROM apps WHERE id=?")
            s.bind(1, appID)
            var members: [(String, Value)] = []
            do {
                defer { s.reset() }
                _ = try s.step()
                members = try Store.members(ofJSONText: s.string(0) ?? "{}")
            }
            for (k, value) in update {
                if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = value } else { members.append((k, value)) }
            }
            try AppVersions.add(c, appID, body: try Store.kept(.object(members), .app, dropping: ["StackId"]))
        }
        return try Store.empty()
    }

    /// The members of a stored JSON object, as values (only what owd itself stored).
    static func members(ofJSONText text: String) throws -> [(String, Value)] {
        let j = try JSON.loads(text)
        defer { cjansson_decref(j) }
        return Value(json: j).members
    }
}

extension Value {
    /// A value from jansson (numbers that are not integers become integers; owd stores none).
    init(json: UnsafePointer<json_t>) {
        switch cjansson_typeof(json) {
        case Int32(JSON_OBJECT.rawValue):
            var members: [(String, Value)] = []
            let object = UnsafeMutablePointer(mutating: json)
            var iter = json_object_iter(object)
            while let it = iter {
                let key = String(cString: json_object_iter_key(it))
                members.append((key, Value(json: json_object_iter_value(it)!)))
                iter = json_object_iter_next(object, it)
            }
            self = .object(members)
        case Int32(JSON_ARRAY.rawValue):
            self = .list((0..<json_array_size(json)).map { Value(json: json_array_get(json, $0)!) })
        case Int32(JSON_STRING.rawValue):
            self = .string(String(cString: json_string_value(json)))
        case Int32(JSON_INTEGER.rawValue):
            self = .integer(Int64(json_integer_value(json)))
        case Int32(JSON_REAL.rawValue):
            self = .integer(Int64(json_real_value(json)))
        case Int32(JSON_TRUE.rawValue):
            self = .boolean(true)
        default:
            self = .boolean(false)
        }
    }
}
