import CJansson

/// Section 10: no answer ever holds a secret it was given. The store keeps every value as
/// given (the agent protocol, section 14, hands them to an agent); answers are built from
/// stored bodies in one place (`Store.resourceJSON`), which calls `Secrets.filter`. The
/// answers of deployments and commands hold no member of an app, a layer or a stack, so
/// DescribeDeployments' path never passes here.
enum Secrets {
    /// What AWS answered in place of a secret.
    static let filtered: StaticString = "*****FILTERED*****"

    /// The secrets of each resource: (member, keys of that member's structure or map).
    static let stack: [(StaticString, [StaticString])] = [("CustomCookbooksSource", ["Password", "SshKey"])]
    static let layer: [(StaticString, [StaticString])] = [
        ("Attributes", ["MysqlRootPassword", "HaproxyStatsPassword", "GangliaPassword"])]
    static let app: [(StaticString, [StaticString])] = [("AppSource", ["Password", "SshKey"]),
                                                         ("SslConfiguration", ["PrivateKey"])]

    /// Replaces, in a resource's answer object (owned by the caller), every secret that is
    /// present with `*****FILTERED*****`. Returns false when memory ran out.
    static func filter(_ body: UnsafeMutablePointer<json_t>, _ resource: Resource) -> Bool {
        let members: [(StaticString, [StaticString])]
        switch resource {
        case .stack: members = stack
        case .layer: members = layer
        case .app: members = app
        default: return true
        }
        var ok = true
        for (member, keys) in members {
            guard let inner = json_object_get(body, cString(member)),
                  cjansson_typeof(inner) == Int32(JSON_OBJECT.rawValue) else { continue }
            for key in keys where json_object_get(inner, cString(key)) != nil {
                ok = replace(inner, cString(key)) && ok
            }
        }
        if resource == .app, let environment = json_object_get(body, "Environment"),
           cjansson_typeof(environment) == Int32(JSON_ARRAY.rawValue) {
            for i in 0..<json_array_size(environment) {
                guard let entry = json_array_get(environment, i),
                      cjansson_typeof(json_object_get(entry, "Secure")) == Int32(JSON_TRUE.rawValue),
                      json_object_get(entry, "Value") != nil else { continue }
                ok = replace(entry, "Value") && ok
            }
        }
        return ok
    }

    private static func replace(_ object: UnsafeMutablePointer<json_t>, _ key: UnsafePointer<CChar>) -> Bool {
        guard let v = json_stringn_nocheck(cString(filtered), filtered.utf8CodeUnitCount) else { return false }
        return json_object_set_new(object, key, v) == 0
    }
}
