import CJansson
import CSQLite

/// What OpsWorks offered rather than stored (section 12): operating systems, agent
/// versions, and service errors (owd runs no EC2 machinery, so it has none).
enum Catalog {
    struct OperatingSystem {
        let name: String, type: String, reportedName: String, reportedVersion: String
    }

    /// The operating systems AWS offered last (its DescribeOperatingSystems), by Name, which
    /// is what an instance's Os takes. A Windows one runs Chef 12.2, the others Chef 12.
    static let operatingSystems: [OperatingSystem] = [
        OperatingSystem(name: "Amazon Linux 2", type: "linux", reportedName: "Amazon Linux", reportedVersion: "2"),
        OperatingSystem(name: "Amazon Linux 2018.03", type: "linux", reportedName: "Amazon Linux", reportedVersion: "2018.03"),
        OperatingSystem(name: "Ubuntu 18.04 LTS", type: "linux", reportedName: "Ubuntu", reportedVersion: "18.04"),
        OperatingSystem(name: "Ubuntu 20.04 LTS", type: "linux", reportedName: "Ubuntu", reportedVersion: "20.04"),
        OperatingSystem(name: "CentOS Linux 7", type: "linux", reportedName: "CentOS Linux", reportedVersion: "7"),
        OperatingSystem(name: "Red Hat Enterprise Linux 7", type: "linux", reportedName: "Red Hat Enterprise Linux", reportedVersion: "7"),
        OperatingSystem(name: "Microsoft Windows Server 2012 R2 Base", type: "windows", reportedName: "Microsoft Windows Server", reportedVersion: "2012 R2"),
        OperatingSystem(name: "Microsoft Windows Server 2016 Base", type: "windows", reportedName: "Microsoft Windows Server", reportedVersion: "2016"),
        OperatingSystem(name: "Microsoft Windows Server 2019 Base", type: "windows", reportedName: "Microsoft Windows Server", reportedVersion: "2019"),
    ]

    /// The version of owd's agent (section 14), the one agent version there is, for each
    /// configuration manager it serves.
    static let agentVersion = "owd-1"
    static let configurationManagers: [(name: String, version: String)] = [("Chef", "11.10"), ("Chef", "12"), ("Chef", "12.2")]
}

extension Store {
    func describeOperatingSystems(_ r: DescribeOperatingSystemsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        let items = Catalog.operatingSystems.map { os -> Value in
            let chef = os.type == "windows" ? "12.2" : "12"
            return .object([
                ("Name", .string(os.name)), ("Id", .string(os.name)), ("Type", .string(os.type)),
                ("ConfigurationManagers", .list([.object([("Name", .string("Chef")), ("Version", .string(chef))])])),
                ("ReportedName", .string(os.reportedName)), ("ReportedVersion", .string(os.reportedVersion)),
                ("Supported", .boolean(true)),
            ])
        }
        return try Store.json(.object([("OperatingSystems", .list(items))]))
    }

    /// The agent versions for a stack (its ConfigurationManager; Chef 12 when it has none)
    /// or for a configuration manager (its Name and Version, each when given); both: both.
    func describeAgentVersions(_ r: DescribeAgentVersionsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        var wanted: [(name: String?, version: String?)] = []
        if let stackID = r.stackId {
            let stack: (String, String) = try engine.read { c in
                let s = try c.prepare("""
                    SELECT json_extract(body, '$.ConfigurationManager.Name'), json_extract(body, '$.ConfigurationManager.Version')
                    FROM stacks WHERE id=?
                    """)
                s.bind(1, stackID)
                defer { s.reset() }
                guard try s.step() else { throw Resource.stack.notFound(stackID) }
                return (s.string(0) ?? "Chef", s.string(1) ?? "12")
            }
            try access.check(grants(), stackID: stackID)
            wanted.append(stack)
        }
        if let m = r.configurationManager { wanted.append((m.name, m.version)) }
        if wanted.isEmpty {
            throw OwdError.validation("Please provide a stack ID or a configuration manager")
        }
        let items = Catalog.configurationManagers.filter { m in
            wanted.allSatisfy { ($0.name ?? m.name) == m.name && ($0.version ?? m.version) == m.version }
        }.map { m -> Value in
            .object([("Version", .string(Catalog.agentVersion)),
                     ("ConfigurationManager", .object([("Name", .string(m.name)), ("Version", .string(m.version))]))])
        }
        return try Store.json(.object([("AgentVersions", .list(items))]))
    }

    /// Always empty: owd runs no EC2 machinery that could fail. The request's rules hold as
    /// for the other describe calls: at most one parameter, named IDs exist (no service
    /// error ID does), `show` on the stack.
    func describeServiceErrors(_ r: DescribeServiceErrorsRequest, _ access: Access) throws -> UnsafeMutablePointer<json_t> {
        try Store.atMostOne([r.stackId != nil, r.instanceId != nil, r.serviceErrorIds != nil],
                            message: "Please provide either one or more service error IDs or one stack ID or one instance ID")
        let grants = grants()
        try engine.read { c in
            var stackID: String?
            if let s = r.stackId { stackID = try stackRow(c, s).id }
            if let i = r.instanceId { stackID = try stackOf(c, .instance, i) }
            if let first = r.serviceErrorIds?.first { throw OwdError.notFound("Unable to find service error with ID \(first)") }
            if let stackID { try access.check(grants, stackID: stackID) }
        }
        return try Store.json(.object([("ServiceErrors", .list([]))]))
    }
}
