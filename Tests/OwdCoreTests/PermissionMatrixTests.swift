import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 7 (callers and permissions), proved exhaustively: every operation
/// (and every request form of the describe calls) × every level × the resource's own stack
/// and another stack, plus the rules around profiles and permissions.
///
/// Readings of the contract chosen where it is open (closest to AWS's documented behaviour):
/// - "The resource's own stack and another stack": `own` gives the caller the level under
///   test on the stack the request concerns and `manage` on another stack (a grant elsewhere
///   never leaks); `other` gives `manage` on the stack concerned and the level under test on
///   the other stack (a weak grant elsewhere never takes anything away). A caller without an
///   identity is the embedding program in both.
/// - Operations without a stack (`CreateUserProfile`, `DescribeUserProfiles`, refused to
///   identified callers) are refused with AWS IAM's form for an action that has no resource
///   type: `... opsworks:<Operation> on resource: *` (AWS's "Permissions That Require an IAM
///   Policy"; OpsWorks has one resource type, the stack).
/// - `DescribePermissions` with only `IamUserArn` (or nothing) names no stack: like the other
///   describe calls without a stack it silently lists only the permissions of stacks the
///   caller may `DescribePermissions` on (`manage`), the caller's own included only there
///   (AWS: "an IAM user must have a Manage permissions level for the stack").
/// - "A caller cannot set its own level": `SetPermission` naming the caller itself is a
///   `ValidationException` whether or not `Level` is given (AWS's console never let a user
///   edit its own permissions); rule order puts the refusal of a caller without `manage`
///   (4) before it (5).
/// - A `Level` that is not one of AWS's five is one of the operation's other rules (5): the
///   model types it as a plain string, so it is not the request's shape (1).
/// - A user ARN is an ID (section 2 lists "user" among the not-found cases), so
///   `DescribeUserProfiles` with an unknown ARN is `ResourceNotFoundException` even for a
///   caller that would be refused (3 before 4).
@Suite("Callers and permissions (section 7)")
struct PermissionMatrixTests {
    static let alice = "arn:aws:iam::210987654321:user/alice"
    static let bob = "arn:aws:iam::123456789012:user/bob"
    static let carol = "arn:aws:iam::123456789012:user/carol"
    /// The account in alice's ARN: every refusal names it, whoever created the stack.
    static let aliceAccount = "210987654321"

    // MARK: The world

    enum Grant: String, CaseIterable, Sendable {
        case deny, iamOnly = "iam_only", show, deploy, manage, noGrant = "no grant", noIdentity = "no identity"

        var level: Level? {
            switch self {
            case .deny: return .deny
            case .iamOnly: return .iamOnly
            case .show: return .show
            case .deploy: return .deploy
            case .manage: return .manage
            case .noGrant, .noIdentity: return nil
            }
        }
    }

    enum Scope: String, CaseIterable, Sendable {
        /// The level under test on the resource's stack, manage on another.
        case own
        /// Manage on the resource's stack, the level under test on another.
        case other
    }

    /// One stack with a little of everything.
    struct StackSet {
        let id: String, region: String, layer: String, app: String
        let online: String, stopped: String, deployment: String, command: String
        /// A machine registered (RegisterInstance) after the deployment: online, no layers.
        let registered: String
        let comment: String, customJson: String
    }

    /// Two stacks made by the embedding program: `t`, the stack every request concerns, and
    /// `o`, another. alice is the caller (unless no identity); bob has a profile and
    /// permissions of his own (show on t, deploy on o); carol has no profile.
    struct World {
        let f: Fixture          // the embedding program
        let caller: Fixture     // alice, or the embedding program for "no identity"
        let arn: String?
        let path: String
        let t: StackSet, o: StackSet
        let levelOnT: Level?, levelOnO: Level?   // alice's grants (nil: none)

        /// Whether the caller may act at `need` on a stack.
        func may(_ need: Level, on stack: String) -> Bool {
            guard arn != nil else { return true }
            let l = stack == t.id ? levelOnT : stack == o.id ? levelOnO : nil
            return (l ?? .deny) >= need
        }
    }

    static func stackSet(_ f: Fixture, _ name: String, _ region: String) throws -> StackSet {
        let s = try f.stack(name, region: region)
        let layer = try f.layer(s)
        let app = try f.app(s)
        let online = try f.instance(s, layers: [layer])
        let stopped = try f.instance(s, layers: [layer], online: false)
        let comment = "secret comment of \(name)"
        let customJson = "{\"password\":\"hunter2-\(name)\"}"
        let d = try f.deploy(s, app: app, extra: ["Comment": comment, "CustomJson": customJson])
        f.clock.advance(1)
        let registered = try f.call("RegisterInstance", ["StackId": s, "Hostname": "box-\(name)"])["InstanceId"] as! String
        return StackSet(id: s, region: region, layer: layer, app: app, online: online, stopped: stopped,
                        deployment: d, command: try f.commandIDs(d)[0], registered: registered,
                        comment: comment, customJson: customJson)
    }

    /// A file store (so that a dump can read every row), fsync off: tests only.
    static func world(_ grant: Grant, _ scope: Scope) throws -> World {
        let path = sharedStorePath()
        let clock = TestClock(exampleTime)
        let f = Fixture(store: try Store(path: path, options: StoreOptions(clock: { clock.now }, durability: .off)),
                        clock: clock)
        // alice may manage her own profile (the My* operations).
        try f.call("CreateUserProfile", ["IamUserArn": alice, "AllowSelfManagement": true])
        try f.call("CreateUserProfile", ["IamUserArn": bob])
        let t = try stackSet(f, "t", "eu-west-1")
        let o = try stackSet(f, "o", "ap-southeast-2")
        try f.call("SetPermission", ["StackId": t.id, "IamUserArn": bob, "Level": "show"])
        try f.call("SetPermission", ["StackId": o.id, "IamUserArn": bob, "Level": "deploy", "AllowSsh": true])
        let (onT, onO): (Grant, Grant) = scope == .own ? (grant, .manage) : (.manage, grant)
        var levels: [String: Level?] = [t.id: nil, o.id: nil]
        if grant != .noIdentity {
            for (stack, g) in [(t.id, onT), (o.id, onO)] {
                guard let level = g.level else { continue }
                try f.call("SetPermission", ["StackId": stack, "IamUserArn": alice, "Level": level.name])
                levels[stack] = level
            }
        }
        let arn = grant == .noIdentity ? nil : alice
        return World(f: f, caller: f.as(arn), arn: arn, path: path, t: t, o: o,
                     levelOnT: levels[t.id]!, levelOnO: levels[o.id]!)
    }

    /// Everything the store holds: the embedding program's answer to every describe call
    /// without parameter, then every row of every table (the change counter included), as
    /// SQLite itself quotes them.
    static func dump(_ w: World) throws -> String {
        let answers = try ["DescribeStacks", "DescribeLayers", "DescribeApps", "DescribeInstances",
                           "DescribeDeployments", "DescribeCommands", "DescribeUserProfiles", "DescribePermissions"]
            .map { try w.f.text($0) }
        let c = try storeConnection(w.path)
        var rows: [String] = []
        if Store.isPostgres(w.path) {
            // PostgreSQL: every table of the store's schema, each row as its text form.
            try c.transaction(immediate: false) {
                var tables: [String] = []
                let t = try c.prepare("SELECT table_name FROM information_schema.tables WHERE table_schema=current_schema() ORDER BY table_name")
                while try t.step() { tables.append(t.string(0) ?? "") }
                t.reset()
                for table in tables {
                    let s = try c.prepare("SELECT r::text FROM \(table) r")
                    var these: [String] = []
                    while try s.step() { these.append(table + ": " + (s.string(0) ?? "")) }
                    s.reset()
                    rows += these.sorted()
                }
            }
        } else {
        try c.transaction(immediate: false) {
            var tables: [String] = []
            let t = try c.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            while try t.step() { tables.append(t.string(0) ?? "") }
            t.reset()
            for table in tables {
                var columns: [String] = []
                let info = try c.prepare("PRAGMA table_info(\(table))")
                while try info.step() { columns.append("quote(\(info.string(1) ?? ""))") }
                info.reset()
                let s = try c.prepare("SELECT \(columns.joined(separator: " || ',' || ")) FROM \(table)")
                var these: [String] = []
                while try s.step() { these.append(table + ": " + (s.string(0) ?? "")) }
                s.reset()
                rows += these.sorted()
            }
        }
        }
        return (answers + rows).joined(separator: "\n")
    }

    // MARK: The operations

    /// What an operation needs of the caller on the stack the request concerns.
    enum Need {
        case level(Level)
        /// No stack: lists only what the caller may see at that level, never refused.
        case filtered(Level)
        /// Any caller (CreateStack).
        case anyone
        /// The embedding program only.
        case embedder
        /// The caller's own profile (alice's allows self-management); the embedding program
        /// has none (ValidationException).
        case selfManaged
    }

    struct Spec {
        let name: String
        let operation: String
        let need: Need
        let request: (World) -> [String: Any]
        /// Checks a successful answer to a request (against the embedding program's view).
        var check: (World, [String: Any], [String: Any]) throws -> Void = { _, _, _ in }
        /// For a request that breaks one of the operation's other rules: the exact
        /// ValidationException an allowed caller gets (rule 5 comes after permissions, 4).
        var allowedError: ((World) -> String)? = nil
    }

    /// The Arn of the world's stack t (made by the embedding program: account 000000000000).
    static func arnOfT(_ w: World) -> String { "arn:aws:opsworks:\(w.t.region):000000000000:stack/\(w.t.id)/" }

    /// The describe calls with a stack answer exactly what the embedding program is answered.
    static func sameAsEmbedder(_ op: String) -> (World, [String: Any], [String: Any]) throws -> Void {
        { w, request, got in
            let expected = try w.f.call(op, request)
            #expect(canonical(got) == canonical(expected))
        }
    }

    /// The embedding program's answer without parameter, keeping the items of the stacks the
    /// caller may see at `need`.
    static func filteredAnswer(_ w: World, _ op: String, _ key: String, need: Level,
                               _ request: [String: Any] = [:]) throws -> [String: Any] {
        let all = try w.f.call(op, request)[key] as! [[String: Any]]
        // Commands carry no StackId: their deployment's.
        var stackOfDeployment: [String: String] = [:]
        for d in try w.f.deployments() { stackOfDeployment[d["DeploymentId"] as! String] = d["StackId"] as? String }
        let kept = all.filter { item in
            let stack = item["StackId"] as? String ?? stackOfDeployment[item["DeploymentId"] as? String ?? ""] ?? ""
            return w.may(need, on: stack)
        }
        return [key: kept]
    }

    static func filtered(_ op: String, _ key: String, need: Level = .show) -> (World, [String: Any], [String: Any]) throws -> Void {
        { w, request, got in
            let expected = try filteredAnswer(w, op, key, need: need, request)
            #expect(canonical(got) == canonical(expected))
            // Not vacuous: the world holds items of both stacks.
            let stacks = Set((try w.f.call(op, request)[key] as! [[String: Any]]).compactMap { $0["StackId"] as? String })
            #expect(op == "DescribeCommands" || stacks == [w.t.id, w.o.id])
        }
    }

    static func item(_ w: World, _ op: String, _ key: String, _ idsMember: String, _ id: String) throws -> [String: Any] {
        (try w.f.call(op, [idsMember: [id]])[key] as! [[String: Any]])[0]
    }

    static let specs: [Spec] = [
        // Section 3.
        Spec(name: "DescribeDeployments(StackId)", operation: "DescribeDeployments", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeDeployments")),
        Spec(name: "DescribeDeployments(AppId)", operation: "DescribeDeployments", need: .level(.show),
             request: { ["AppId": $0.t.app] }, check: sameAsEmbedder("DescribeDeployments")),
        Spec(name: "DescribeDeployments(DeploymentIds)", operation: "DescribeDeployments", need: .level(.show),
             request: { ["DeploymentIds": [$0.t.deployment]] }, check: sameAsEmbedder("DescribeDeployments")),
        Spec(name: "DescribeDeployments()", operation: "DescribeDeployments", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeDeployments", "Deployments")),
        // Section 4.
        Spec(name: "CreateDeployment(app command)", operation: "CreateDeployment", need: .level(.deploy),
             request: { ["StackId": $0.t.id, "AppId": $0.t.app, "Command": ["Name": "deploy"]] },
             check: { w, _, got in
                 let d = try item(w, "DescribeDeployments", "Deployments", "DeploymentIds", got["DeploymentId"] as! String)
                 #expect(d["StackId"] as? String == w.t.id)
                 #expect(d["IamUserArn"] as? String == w.arn)
             }),
        Spec(name: "CreateDeployment(stack command)", operation: "CreateDeployment", need: .level(.deploy),
             request: { ["StackId": $0.t.id, "Command": ["Name": "configure"], "Comment": "by the caller"] },
             check: { w, _, got in
                 let d = try item(w, "DescribeDeployments", "Deployments", "DeploymentIds", got["DeploymentId"] as! String)
                 #expect(d["InstanceIds"] as? [String] == [w.t.online, w.t.registered])
                 #expect(d["IamUserArn"] as? String == w.arn)
             }),
        // Section 5.
        Spec(name: "DescribeCommands(DeploymentId)", operation: "DescribeCommands", need: .level(.show),
             request: { ["DeploymentId": $0.t.deployment] }, check: sameAsEmbedder("DescribeCommands")),
        Spec(name: "DescribeCommands(InstanceId)", operation: "DescribeCommands", need: .level(.show),
             request: { ["InstanceId": $0.t.online] }, check: sameAsEmbedder("DescribeCommands")),
        Spec(name: "DescribeCommands(CommandIds)", operation: "DescribeCommands", need: .level(.show),
             request: { ["CommandIds": [$0.t.command]] }, check: sameAsEmbedder("DescribeCommands")),
        Spec(name: "DescribeCommands()", operation: "DescribeCommands", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeCommands", "Commands")),
        Spec(name: "AcknowledgeCommand", operation: "AcknowledgeCommand", need: .level(.manage),
             request: { ["CommandId": $0.t.command] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeCommands", "Commands", "CommandIds", w.t.command)
                 #expect(it["AcknowledgedAt"] != nil)
             }),
        Spec(name: "CompleteCommand", operation: "CompleteCommand", need: .level(.manage),
             request: { ["CommandId": $0.t.command, "Status": "failed", "ExitCode": 2] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeDeployments", "Deployments", "DeploymentIds", w.t.deployment)
                 #expect(it["Status"] as? String == "failed")
             }),
        // Section 14.
        Spec(name: "PollCommands", operation: "PollCommands", need: .level(.manage),
             request: { ["InstanceId": $0.t.online] },
             check: { w, _, got in
                 let commands = got["Commands"] as? [[String: Any]] ?? []
                 #expect(commands.map { $0["CommandId"] as? String } == [w.t.command])
                 #expect(commands.first?["CustomJson"] as? String == w.t.customJson)
             }),
        Spec(name: "GetCommandLog", operation: "GetCommandLog", need: .level(.show),
             request: { ["CommandId": $0.t.command] },
             check: { _, _, got in #expect(got.isEmpty, "a command without a stored log has no Log") }),
        // Section 6.
        Spec(name: "CreateStack", operation: "CreateStack", need: .anyone,
             request: { _ in ["Name": "new", "Region": "sa-east-1",
                              "ServiceRoleArn": "arn:aws:iam::210987654321:role/aws-opsworks-service-role",
                              "DefaultInstanceProfileArn": "arn:aws:iam::210987654321:instance-profile/aws-opsworks-ec2-role"] },
             check: { w, _, got in
                 let s = got["StackId"] as! String
                 let permissions = try w.f.call("DescribePermissions", ["StackId": s])["Permissions"] as! [[String: Any]]
                 if let arn = w.arn {
                     // The creator manages its stack.
                     #expect(permissions.map { $0["IamUserArn"] as? String } == [arn])
                     #expect(permissions.first?["Level"] as? String == "manage")
                     try w.caller.call("CreateLayer", ["StackId": s, "Type": "custom", "Name": "x", "Shortname": "x"])
                 } else {
                     #expect(permissions.isEmpty)
                 }
             }),
        Spec(name: "DescribeStacks(StackIds)", operation: "DescribeStacks", need: .level(.show),
             request: { ["StackIds": [$0.t.id]] }, check: sameAsEmbedder("DescribeStacks")),
        Spec(name: "DescribeStacks()", operation: "DescribeStacks", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeStacks", "Stacks")),
        Spec(name: "CreateLayer", operation: "CreateLayer", need: .level(.manage),
             request: { ["StackId": $0.t.id, "Type": "custom", "Name": "db", "Shortname": "db"] },
             check: { w, _, got in
                 let it = try item(w, "DescribeLayers", "Layers", "LayerIds", got["LayerId"] as! String)
                 #expect(it["StackId"] as? String == w.t.id)
             }),
        Spec(name: "DescribeLayers(StackId)", operation: "DescribeLayers", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeLayers")),
        Spec(name: "DescribeLayers(LayerIds)", operation: "DescribeLayers", need: .level(.show),
             request: { ["LayerIds": [$0.t.layer]] }, check: sameAsEmbedder("DescribeLayers")),
        Spec(name: "DescribeLayers()", operation: "DescribeLayers", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeLayers", "Layers")),
        Spec(name: "CreateApp", operation: "CreateApp", need: .level(.manage),
             request: { ["StackId": $0.t.id, "Name": "api", "Type": "other"] },
             check: { w, _, got in
                 let it = try item(w, "DescribeApps", "Apps", "AppIds", got["AppId"] as! String)
                 #expect(it["StackId"] as? String == w.t.id)
             }),
        Spec(name: "DescribeApps(StackId)", operation: "DescribeApps", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeApps")),
        Spec(name: "DescribeApps(AppIds)", operation: "DescribeApps", need: .level(.show),
             request: { ["AppIds": [$0.t.app]] }, check: sameAsEmbedder("DescribeApps")),
        Spec(name: "DescribeApps()", operation: "DescribeApps", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeApps", "Apps")),
        // Section 9: UpdateApp is a Deploy-level operation.
        Spec(name: "UpdateApp", operation: "UpdateApp", need: .level(.deploy),
             request: { ["AppId": $0.t.app, "Description": "updated by the caller"] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeApps", "Apps", "AppIds", w.t.app)
                 #expect(it["Description"] as? String == "updated by the caller")
             }),
        Spec(name: "CreateInstance", operation: "CreateInstance", need: .level(.manage),
             request: { ["StackId": $0.t.id, "LayerIds": [$0.t.layer], "InstanceType": "t2.micro"] },
             check: { w, _, got in
                 let i = try item(w, "DescribeInstances", "Instances", "InstanceIds", got["InstanceId"] as! String)
                 #expect(i["StackId"] as? String == w.t.id)
                 #expect(i["Status"] as? String == "stopped")
             }),
        Spec(name: "StartInstance", operation: "StartInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.stopped] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.stopped)
                 #expect(it["Status"] as? String == "online")
             }),
        Spec(name: "StopInstance", operation: "StopInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.online] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.online)
                 #expect(it["Status"] as? String == "stopped")
             }),
        Spec(name: "DescribeInstances(StackId)", operation: "DescribeInstances", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeInstances")),
        Spec(name: "DescribeInstances(LayerId)", operation: "DescribeInstances", need: .level(.show),
             request: { ["LayerId": $0.t.layer] }, check: sameAsEmbedder("DescribeInstances")),
        Spec(name: "DescribeInstances(InstanceIds)", operation: "DescribeInstances", need: .level(.show),
             request: { ["InstanceIds": [$0.t.online, $0.t.stopped]] }, check: sameAsEmbedder("DescribeInstances")),
        Spec(name: "DescribeInstances()", operation: "DescribeInstances", need: .filtered(.show),
             request: { _ in [:] }, check: filtered("DescribeInstances", "Instances")),
        // Section 7.
        Spec(name: "CreateUserProfile", operation: "CreateUserProfile", need: .embedder,
             request: { _ in ["IamUserArn": carol] },
             check: { w, _, _ in
                 let p = try w.f.call("DescribeUserProfiles", ["IamUserArns": [carol]])["UserProfiles"] as! [[String: Any]]
                 #expect(p.first?["Name"] as? String == "carol")
             }),
        Spec(name: "DescribeUserProfiles()", operation: "DescribeUserProfiles", need: .embedder,
             request: { _ in [:] }, check: sameAsEmbedder("DescribeUserProfiles")),
        Spec(name: "DescribeUserProfiles(IamUserArns)", operation: "DescribeUserProfiles", need: .embedder,
             request: { _ in ["IamUserArns": [bob]] }, check: sameAsEmbedder("DescribeUserProfiles")),
        Spec(name: "SetPermission", operation: "SetPermission", need: .level(.manage),
             request: { ["StackId": $0.t.id, "IamUserArn": bob, "Level": "deploy", "AllowSudo": true] },
             check: { w, _, _ in
                 let p = try w.f.call("DescribePermissions", ["StackId": w.t.id, "IamUserArn": bob])["Permissions"] as! [[String: Any]]
                 #expect(canonical(p) == canonical([["StackId": w.t.id, "IamUserArn": bob, "Level": "deploy",
                                                     "AllowSsh": false, "AllowSudo": true]]))
             }),
        Spec(name: "DescribePermissions(StackId)", operation: "DescribePermissions", need: .level(.manage),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribePermissions")),
        Spec(name: "DescribePermissions(StackId, IamUserArn)", operation: "DescribePermissions", need: .level(.manage),
             request: { ["StackId": $0.t.id, "IamUserArn": bob] }, check: sameAsEmbedder("DescribePermissions")),
        Spec(name: "DescribePermissions(IamUserArn of another user)", operation: "DescribePermissions",
             need: .filtered(.manage), request: { _ in ["IamUserArn": bob] },
             check: filtered("DescribePermissions", "Permissions", need: .manage)),
        Spec(name: "DescribePermissions(IamUserArn of the caller)", operation: "DescribePermissions",
             need: .filtered(.manage), request: { _ in ["IamUserArn": alice] },
             check: { w, _, got in
                 let expected = try filteredAnswer(w, "DescribePermissions", "Permissions", need: .manage, ["IamUserArn": alice])
                 #expect(canonical(got) == canonical(expected))
             }),
        Spec(name: "DescribePermissions()", operation: "DescribePermissions", need: .filtered(.manage),
             request: { _ in [:] }, check: filtered("DescribePermissions", "Permissions", need: .manage)),
        // Section 12: levels from the model's "Required Permissions".
        Spec(name: "UpdateInstance", operation: "UpdateInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.stopped, "InstanceType": "m5.large"] },
             check: { w, _, _ in
                 let it1 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.stopped)
                 #expect(it1["InstanceType"] as? String == "m5.large")
             }),
        Spec(name: "DeleteInstance", operation: "DeleteInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.stopped] },
             check: { w, _, _ in
                 w.f.expectError("DescribeInstances", ["InstanceIds": [w.t.stopped]], "ResourceNotFoundException")
             }),
        Spec(name: "RebootInstance", operation: "RebootInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.online] },
             check: { w, _, _ in
                 let it2 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.online)
                 #expect(it2["Status"] as? String == "online")
             }),
        Spec(name: "RegisterInstance", operation: "RegisterInstance", need: .level(.manage),
             request: { ["StackId": $0.t.id, "Hostname": "new-box"] },
             check: { w, _, got in
                 let i = try item(w, "DescribeInstances", "Instances", "InstanceIds", got["InstanceId"] as! String)
                 #expect(i["Status"] as? String == "online" && i["StackId"] as? String == w.t.id)
                 #expect(i["RegisteredBy"] as? String == w.arn)
             }),
        Spec(name: "DeregisterInstance", operation: "DeregisterInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.online] },
             check: { w, _, _ in
                 w.f.expectError("DescribeInstances", ["InstanceIds": [w.t.online]], "ResourceNotFoundException")
                 // Its pending command failed, and the deployment rolled up.
                 let it3 = try item(w, "DescribeDeployments", "Deployments", "DeploymentIds", w.t.deployment)
                 #expect(it3["Status"] as? String == "failed")
             }),
        Spec(name: "AssignInstance", operation: "AssignInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.registered, "LayerIds": [$0.t.layer]] },
             check: { w, _, _ in
                 let it4 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.registered)
                 #expect(it4["LayerIds"] as? [String] == [w.t.layer])
             }),
        Spec(name: "UnassignInstance", operation: "UnassignInstance", need: .level(.manage),
             request: { ["InstanceId": $0.t.registered] },
             check: { w, _, _ in
                 let it5 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.registered)
                 #expect(it5["LayerIds"] as? [String] == [])
             }),
        Spec(name: "GetHostnameSuggestion", operation: "GetHostnameSuggestion", need: .level(.manage),
             request: { ["LayerId": $0.t.layer] },
             check: { w, _, got in
                 #expect(canonical(got) == canonical(["LayerId": w.t.layer, "Hostname": "web3"]))
             }),
        Spec(name: "StartStack", operation: "StartStack", need: .level(.manage),
             request: { ["StackId": $0.t.id] },
             check: { w, _, _ in
                 let it6 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.stopped)
                 #expect(it6["Status"] as? String == "online")
             }),
        Spec(name: "StopStack", operation: "StopStack", need: .level(.manage),
             request: { ["StackId": $0.t.id] },
             check: { w, _, _ in
                 let it7 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.t.online)
                 #expect(it7["Status"] as? String == "stopped")
                 let it8 = try item(w, "DescribeDeployments", "Deployments", "DeploymentIds", w.t.deployment)
                 #expect(it8["Status"] as? String == "failed")
                 // The other stack is untouched.
                 let it9 = try item(w, "DescribeInstances", "Instances", "InstanceIds", w.o.online)
                 #expect(it9["Status"] as? String == "online")
             }),
        Spec(name: "UpdateUserProfile", operation: "UpdateUserProfile", need: .embedder,
             request: { _ in ["IamUserArn": bob, "SshUsername": "robert"] },
             check: { w, _, _ in
                 let p = try w.f.call("DescribeUserProfiles", ["IamUserArns": [bob]])["UserProfiles"] as! [[String: Any]]
                 #expect(p.first?["SshUsername"] as? String == "robert")
             }),
        Spec(name: "DeleteUserProfile", operation: "DeleteUserProfile", need: .embedder,
             request: { _ in ["IamUserArn": bob] },
             check: { w, _, _ in
                 w.f.expectError("DescribeUserProfiles", ["IamUserArns": [bob]], "ResourceNotFoundException")
                 // His permissions went with it.
                 let left = try w.f.call("DescribePermissions")["Permissions"] as! [[String: Any]]
                 #expect(!left.contains { $0["IamUserArn"] as? String == bob })
             }),
        Spec(name: "DescribeMyUserProfile", operation: "DescribeMyUserProfile", need: .selfManaged,
             request: { _ in [:] },
             check: { w, _, got in
                 #expect(canonical(got) == canonical(["UserProfile": ["IamUserArn": alice, "Name": "alice", "SshUsername": "alice"]]))
             }),
        Spec(name: "UpdateMyUserProfile", operation: "UpdateMyUserProfile", need: .selfManaged,
             request: { _ in ["SshPublicKey": "ssh-ed25519 AAAA alice"] },
             check: { w, _, _ in
                 let p = try w.f.call("DescribeUserProfiles", ["IamUserArns": [alice]])["UserProfiles"] as! [[String: Any]]
                 #expect(p.first?["SshPublicKey"] as? String == "ssh-ed25519 AAAA alice")
             }),
        Spec(name: "DescribeOperatingSystems", operation: "DescribeOperatingSystems", need: .anyone,
             request: { _ in [:] },
             check: { w, request, got in
                 #expect(!(got["OperatingSystems"] as! [Any]).isEmpty)
                 try sameAsEmbedder("DescribeOperatingSystems")(w, request, got)
             }),
        Spec(name: "DescribeAgentVersions(StackId)", operation: "DescribeAgentVersions", need: .level(.show),
             request: { ["StackId": $0.t.id] },
             check: { w, request, got in
                 #expect((got["AgentVersions"] as! [Any]).count == 1)
                 try sameAsEmbedder("DescribeAgentVersions")(w, request, got)
             }),
        Spec(name: "DescribeAgentVersions(ConfigurationManager)", operation: "DescribeAgentVersions", need: .filtered(.show),
             request: { _ in ["ConfigurationManager": ["Name": "Chef", "Version": "12"]] },
             check: sameAsEmbedder("DescribeAgentVersions")),
        Spec(name: "DescribeServiceErrors(StackId)", operation: "DescribeServiceErrors", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeServiceErrors")),
        Spec(name: "DescribeServiceErrors(InstanceId)", operation: "DescribeServiceErrors", need: .level(.show),
             request: { ["InstanceId": $0.t.online] }, check: sameAsEmbedder("DescribeServiceErrors")),
        Spec(name: "DescribeServiceErrors()", operation: "DescribeServiceErrors", need: .filtered(.show),
             request: { _ in [:] }, check: sameAsEmbedder("DescribeServiceErrors")),
        // Section 12: stacks, layers, apps and tags.
        Spec(name: "UpdateStack", operation: "UpdateStack", need: .level(.manage),
             request: { ["StackId": $0.t.id, "Name": "renamed", "DefaultOs": "Ubuntu 22.04 LTS"] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeStacks", "Stacks", "StackIds", w.t.id)
                 #expect(it["Name"] as? String == "renamed" && it["DefaultOs"] as? String == "Ubuntu 22.04 LTS")
             }),
        Spec(name: "DeleteStack(a stack with members)", operation: "DeleteStack", need: .level(.manage),
             request: { ["StackId": $0.t.id] },
             allowedError: { "Cannot delete stack \($0.t.id): it still has 3 instances, 1 layer and 1 app; delete them first" }),
        Spec(name: "CloneStack", operation: "CloneStack", need: .level(.manage),
             request: { ["SourceStackId": $0.t.id, "ServiceRoleArn": "arn:aws:iam::210987654321:role/clone",
                         "CloneAppIds": [$0.t.app], "ClonePermissions": true] },
             check: { w, _, got in
                 let s = got["StackId"] as! String
                 let summary = try w.f.call("DescribeStackSummary", ["StackId": s])["StackSummary"] as! [String: Any]
                 #expect(summary["LayersCount"] as? Int == 1 && summary["AppsCount"] as? Int == 1)
                 let levels = try w.f.call("DescribePermissions", ["StackId": s])["Permissions"] as! [[String: Any]]
                 let mine = levels.first { $0["IamUserArn"] as? String == w.arn }
                 if w.arn != nil { #expect(mine?["Level"] as? String == "manage") }
                 #expect(levels.contains { $0["IamUserArn"] as? String == bob && $0["Level"] as? String == "show" })
             }),
        Spec(name: "DescribeStackSummary", operation: "DescribeStackSummary", need: .level(.show),
             request: { ["StackId": $0.t.id] }, check: sameAsEmbedder("DescribeStackSummary")),
        Spec(name: "DescribeStackProvisioningParameters", operation: "DescribeStackProvisioningParameters",
             need: .level(.show), request: { ["StackId": $0.t.id] },
             check: sameAsEmbedder("DescribeStackProvisioningParameters")),
        Spec(name: "UpdateLayer", operation: "UpdateLayer", need: .level(.manage),
             request: { ["LayerId": $0.t.layer, "Packages": ["nginx"]] },
             check: { w, _, _ in
                 let it = try item(w, "DescribeLayers", "Layers", "LayerIds", w.t.layer)
                 #expect(it["Packages"] as? [String] == ["nginx"])
             }),
        Spec(name: "DeleteLayer(a layer with instances)", operation: "DeleteLayer", need: .level(.manage),
             request: { ["LayerId": $0.t.layer] },
             allowedError: { "Cannot delete layer \($0.t.layer): it still has 2 instances; delete them (or unassign registered ones) first" }),
        Spec(name: "DeleteLayer(a layer without instances)", operation: "DeleteLayer", need: .level(.manage),
             request: { w in ["LayerId": try! w.f.layer(w.t.id, "empty")] },
             check: { w, request, _ in
                 w.f.expectError("DescribeLayers", ["LayerIds": [request["LayerId"] as! String]], "ResourceNotFoundException")
             }),
        Spec(name: "DeleteApp", operation: "DeleteApp", need: .level(.manage),
             request: { ["AppId": $0.t.app] },
             check: { w, _, _ in
                 w.f.expectError("DescribeApps", ["AppIds": [w.t.app]], "ResourceNotFoundException")
                 let left = try w.f.deployments(["StackId": w.t.id]).map { $0["DeploymentId"] as! String }
                 #expect(left == [w.t.deployment])
             }),
        Spec(name: "TagResource", operation: "TagResource", need: .level(.manage),
             request: { ["ResourceArn": arnOfT($0), "Tags": ["team": "payments"]] },
             check: { w, _, _ in
                 let tags = try w.f.call("ListTags", ["ResourceArn": arnOfT(w)])["Tags"]!
                 #expect(canonical(tags) == canonical(["team": "payments"]))
             }),
        Spec(name: "UntagResource", operation: "UntagResource", need: .level(.manage),
             request: { w in
                 _ = try! w.f.call("TagResource", ["ResourceArn": arnOfT(w), "Tags": ["team": "payments", "env": "prod"]])
                 return ["ResourceArn": arnOfT(w), "TagKeys": ["team"]]
             },
             check: { w, _, _ in
                 let tags = try w.f.call("ListTags", ["ResourceArn": arnOfT(w)])["Tags"]!
                 #expect(canonical(tags) == canonical(["env": "prod"]))
             }),
        Spec(name: "ListTags", operation: "ListTags", need: .level(.show),
             request: { w in
                 _ = try! w.f.call("TagResource", ["ResourceArn": arnOfT(w), "Tags": ["team": "payments"]])
                 return ["ResourceArn": arnOfT(w)]
             },
             check: sameAsEmbedder("ListTags")),
    ]

    // MARK: The matrix

    struct Case: Sendable, CustomTestStringConvertible {
        let spec: Int
        let grant: Grant
        let scope: Scope

        var testDescription: String {
            let op = PermissionMatrixTests.specs[spec].name
            switch (grant, scope) {
            case (.noIdentity, .own): return "\(op) · no identity (the embedding program) · on its stack"
            case (.noIdentity, .other): return "\(op) · no identity (the embedding program) · beside another stack"
            case (_, .own): return "\(op) · \(grant.rawValue) on its stack, manage on another"
            case (_, .other): return "\(op) · manage on its stack, \(grant.rawValue) on another"
            }
        }
    }

    static let cases: [Case] = specs.indices.flatMap { i in
        Grant.allCases.flatMap { g in Scope.allCases.map { Case(spec: i, grant: g, scope: $0) } }
    }

    /// The call's expected failure: nil (allowed), the exact refusal, the operation's own
    /// ValidationException for an allowed call (`allowedError`), or, for the My*
    /// operations called by the embedding program, which has no profile of its own, the
    /// ValidationException that says so.
    static func expectedFailure(_ spec: Spec, _ w: World) -> (type: String, message: String)? {
        if case .selfManaged = spec.need, w.arn == nil {
            return ("ValidationException",
                    "\(spec.operation) acts on the caller's own user profile: a store opened without an identity has none")
        }
        if let refused = refusal(spec, w) { return ("AccessDeniedException", refused) }
        // Allowed, and then refused by the operation's own rule (e.g. a non-empty DeleteStack).
        return spec.allowedError.map { ("ValidationException", $0(w)) }
    }

    /// The call's expected outcome: allowed, or the exact refusal.
    static func refusal(_ spec: Spec, _ w: World) -> String? {
        guard let arn = w.arn else { return nil }
        switch spec.need {
        case .anyone, .filtered, .selfManaged:
            return nil
        case .embedder:
            return "User: \(arn) is not authorized to perform: opsworks:\(spec.operation) on resource: *"
        case .level(let need):
            if w.may(need, on: w.t.id) { return nil }
            return "User: \(arn) is not authorized to perform: opsworks:\(spec.operation) on resource: arn:aws:opsworks:\(w.t.region):\(aliceAccount):stack/\(w.t.id)/"
        }
    }

    @Test("Matrix", arguments: cases)
    func matrix(_ c: Case) throws {
        let spec = Self.specs[c.spec]
        let w = try Self.world(c.grant, c.scope)
        defer { try? FileManager.default.removeItem(atPath: (w.path as NSString).deletingLastPathComponent) }
        let request = spec.request(w)
        let before = try Self.dump(w)
        let expectedFailure = Self.expectedFailure(spec, w)
        do {
            let got = try w.caller.call(spec.operation, request)
            if let expectedFailure {
                Issue.record("allowed, but the contract refuses it with: \(expectedFailure.type): \(expectedFailure.message)")
            } else {
                try spec.check(w, request, got)
            }
        } catch let e as OwdError {
            if let expectedFailure {
                #expect(e.type == expectedFailure.type)
                #expect(e.message == expectedFailure.message)
                #expect(try Self.dump(w) == before, "a refused call changed the store")
            } else {
                Issue.record("refused, but the contract allows it: \(e.type): \(e.message)")
            }
        }
    }

    @Test("The matrix covers every operation of the operation table, at the table's permission level")
    func everyOperation() {
        // The list comes from the one operation table (tools/gen_shapes.py); each spec's
        // need is section 7 as written here, checked against the table's permission column.
        let contract = Set(Operation.allCases.map(\.rawValue))
        #expect(Set(Self.specs.map(\.operation)) == contract)
        #expect(Set(Store.operations) == contract)
        #expect(Self.cases.count == Self.specs.count * Grant.allCases.count * Scope.allCases.count)
        for spec in Self.specs {
            guard let op = Operation(rawValue: spec.operation) else { continue }
            switch (spec.need, op.permission) {
            case (.level(let a), .stack(let b)), (.filtered(let a), .stack(let b)):
                #expect(a == b, "\(spec.name): the matrix needs \(a.name), the table says \(b.name)")
            case (.anyone, .anyone), (.embedder, .embedder), (.selfManaged, .selfManaged):
                break
            default:
                Issue.record("\(spec.name): the matrix needs \(spec.need), the table says \(op.permission)")
            }
        }
    }
}

// MARK: The rules around the matrix

extension PermissionMatrixTests {
    static func expectUnchanged(_ w: World, sourceLocation: SourceLocation = #_sourceLocation,
                                _ body: () throws -> Void) throws {
        let before = try dump(w)
        try body()
        #expect(try dump(w) == before, "a failed call changed the store", sourceLocation: sourceLocation)
    }

    static func denied(_ op: String, _ w: World) -> String {
        "User: \(alice) is not authorized to perform: opsworks:\(op) on resource: arn:aws:opsworks:\(w.t.region):\(aliceAccount):stack/\(w.t.id)/"
    }

    @Test("A caller without Show is refused, not told 'not found', for an existing deployment, and learns none of its data",
          arguments: [Grant.deny, .iamOnly, .noGrant])
    func refusedNotHidden(_ grant: Grant) throws {
        let w = try Self.world(grant, .own)
        let secrets = [w.t.deployment, w.t.app, w.t.comment, w.t.customJson, "hunter2", w.t.online, w.t.stopped,
                       w.t.layer, w.t.command, "deploy\"", "running", "2013-"]
        let requests: [(String, [String: Any])] = [
            ("DescribeDeployments", ["DeploymentIds": [w.t.deployment]]),
            ("DescribeDeployments", ["AppId": w.t.app]),
            ("DescribeDeployments", ["StackId": w.t.id]),
            ("DescribeCommands", ["DeploymentId": w.t.deployment]),
            ("DescribeCommands", ["CommandIds": [w.t.command]]),
            ("DescribeCommands", ["InstanceId": w.t.online]),
        ]
        try Self.expectUnchanged(w) {
            for (op, request) in requests {
                guard let e = w.caller.error(op, request) else { continue }
                #expect(e.type == "AccessDeniedException", "\(op) \(request): \(e.message)")
                #expect(e.message == Self.denied(op, w))
                for s in secrets { #expect(!e.message.contains(s), "\(op) \(request) reveals \(s)") }
            }
            // Without a parameter: silently nothing of that stack.
            let deployments = try w.caller.deployments(), commands = try w.caller.commands([:])
            #expect(deployments.allSatisfy { $0["StackId"] as? String == w.o.id })
            #expect(commands.allSatisfy { $0["DeploymentId"] as? String == w.o.deployment })
        }
    }

    /// Rule order (section 1): IDs that do not exist (stack first) before permissions.
    static func unknownFirst(_ w: World, _ x: String) -> [(String, [String: Any], String)] {
        let t = w.t
        return [
            ("DescribeDeployments", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeDeployments", ["AppId": x], "Unable to find app with ID \(x)"),
            ("DescribeDeployments", ["DeploymentIds": [t.deployment, x]], "Unable to find deployment with ID \(x)"),
            ("CreateDeployment", ["StackId": x, "AppId": x, "Command": ["Name": "deploy"]], "Unable to find stack with ID \(x)"),
            ("CreateDeployment", ["StackId": t.id, "AppId": x, "Command": ["Name": "deploy"]], "Unable to find app with ID \(x)"),
            ("CreateDeployment", ["StackId": t.id, "Command": ["Name": "setup"], "InstanceIds": [t.online, x]], "Unable to find instance with ID \(x)"),
            ("CreateDeployment", ["StackId": t.id, "Command": ["Name": "setup"], "LayerIds": [x]], "Unable to find layer with ID \(x)"),
            ("DescribeCommands", ["DeploymentId": x], "Unable to find deployment with ID \(x)"),
            ("DescribeCommands", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("DescribeCommands", ["CommandIds": [t.command, x]], "Unable to find command with ID \(x)"),
            ("AcknowledgeCommand", ["CommandId": x], "Unable to find command with ID \(x)"),
            ("CompleteCommand", ["CommandId": x, "Status": "successful"], "Unable to find command with ID \(x)"),
            ("PollCommands", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("GetCommandLog", ["CommandId": x], "Unable to find command with ID \(x)"),
            ("DescribeStacks", ["StackIds": [t.id, x]], "Unable to find stack with ID \(x)"),
            ("CreateLayer", ["StackId": x, "Type": "custom", "Name": "db", "Shortname": "db"], "Unable to find stack with ID \(x)"),
            ("DescribeLayers", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeLayers", ["LayerIds": [t.layer, x]], "Unable to find layer with ID \(x)"),
            ("CreateApp", ["StackId": x, "Name": "api", "Type": "other"], "Unable to find stack with ID \(x)"),
            ("DescribeApps", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeApps", ["AppIds": [t.app, x]], "Unable to find app with ID \(x)"),
            ("UpdateApp", ["AppId": x, "Description": "d"], "Unable to find app with ID \(x)"),
            ("CreateInstance", ["StackId": x, "LayerIds": [t.layer], "InstanceType": "t2.micro"], "Unable to find stack with ID \(x)"),
            ("CreateInstance", ["StackId": t.id, "LayerIds": [t.layer, x], "InstanceType": "t2.micro"], "Unable to find layer with ID \(x)"),
            ("StartInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("StopInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("DescribeInstances", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeInstances", ["LayerId": x], "Unable to find layer with ID \(x)"),
            ("DescribeInstances", ["InstanceIds": [t.online, x]], "Unable to find instance with ID \(x)"),
            ("SetPermission", ["StackId": x, "IamUserArn": carol, "Level": "show"], "Unable to find stack with ID \(x)"),
            ("SetPermission", ["StackId": t.id, "IamUserArn": carol, "Level": "show"], "Unable to find user with ARN \(carol)"),
            ("DescribePermissions", ["StackId": x, "IamUserArn": carol], "Unable to find stack with ID \(x)"),
            ("DescribePermissions", ["StackId": t.id, "IamUserArn": carol], "Unable to find user with ARN \(carol)"),
            ("DescribeUserProfiles", ["IamUserArns": [bob, carol]], "Unable to find user with ARN \(carol)"),
            ("UpdateInstance", ["InstanceId": x, "LayerIds": [x]], "Unable to find instance with ID \(x)"),
            ("UpdateInstance", ["InstanceId": t.stopped, "LayerIds": [t.layer, x]], "Unable to find layer with ID \(x)"),
            ("DeleteInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("RebootInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("RegisterInstance", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DeregisterInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("AssignInstance", ["InstanceId": x, "LayerIds": [x]], "Unable to find instance with ID \(x)"),
            ("AssignInstance", ["InstanceId": t.registered, "LayerIds": [x]], "Unable to find layer with ID \(x)"),
            ("UnassignInstance", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("GetHostnameSuggestion", ["LayerId": x], "Unable to find layer with ID \(x)"),
            ("StartStack", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("StopStack", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("UpdateUserProfile", ["IamUserArn": carol], "Unable to find user with ARN \(carol)"),
            ("DeleteUserProfile", ["IamUserArn": carol], "Unable to find user with ARN \(carol)"),
            ("DescribeAgentVersions", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeServiceErrors", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeServiceErrors", ["InstanceId": x], "Unable to find instance with ID \(x)"),
            ("UpdateStack", ["StackId": x, "Name": "n"], "Unable to find stack with ID \(x)"),
            ("DeleteStack", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("CloneStack", ["SourceStackId": x, "ServiceRoleArn": "r", "CloneAppIds": [x]], "Unable to find stack with ID \(x)"),
            ("CloneStack", ["SourceStackId": t.id, "ServiceRoleArn": "r", "CloneAppIds": [t.app, x]], "Unable to find app with ID \(x)"),
            ("DescribeStackSummary", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("DescribeStackProvisioningParameters", ["StackId": x], "Unable to find stack with ID \(x)"),
            ("UpdateLayer", ["LayerId": x, "Name": "n"], "Unable to find layer with ID \(x)"),
            ("DeleteLayer", ["LayerId": x], "Unable to find layer with ID \(x)"),
            ("DeleteApp", ["AppId": x], "Unable to find app with ID \(x)"),
            ("TagResource", ["ResourceArn": "arn:aws:opsworks:\(t.region):000000000000:stack/\(x)/", "Tags": ["a": "b"]],
             "Unable to find stack with ID \(x)"),
            ("UntagResource", ["ResourceArn": "arn:aws:opsworks:\(t.region):000000000000:layer/\(x)/", "TagKeys": ["a"]],
             "Unable to find layer with ID \(x)"),
            ("ListTags", ["ResourceArn": "arn:aws:opsworks:\(t.region):000000000000:stack/\(x)/"], "Unable to find stack with ID \(x)"),
        ]
    }

    @Test("Unknown IDs are reported before refusals (stack first), and change nothing",
          arguments: [Grant.deny, .iamOnly, .show, .noGrant])
    func unknownBeforeRefusal(_ grant: Grant) throws {
        let w = try Self.world(grant, .own)
        let x = unknownID()
        try Self.expectUnchanged(w) {
            for (op, request, message) in Self.unknownFirst(w, x) {
                guard let e = w.caller.error(op, request) else { continue }
                #expect(e.type == "ResourceNotFoundException", "\(op) \(request): \(e.message)")
                #expect(e.message == message, "\(op) \(request)")
            }
        }
    }

    @Test("CreateDeployment by an identified caller sets IamUserArn; by the embedding program it does not")
    func iamUserArn() throws {
        let w = try Self.world(.deploy, .own)
        let mine = try w.caller.deploy(w.t.id, app: w.t.app)
        let theirs = try w.f.deploy(w.t.id, app: w.t.app)
        for reader in [w.f, w.caller] {
            let got = try reader.deployments(["DeploymentIds": [mine, theirs]])
            #expect(got.first { $0["DeploymentId"] as? String == mine }?["IamUserArn"] as? String == Self.alice)
            #expect(got.first { $0["DeploymentId"] as? String == theirs }?.keys.contains("IamUserArn") == false)
        }
        // A deployment bob made shows bob's ARN to alice too.
        let bob = w.f.as(Self.bob)
        try w.f.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.bob, "Level": "deploy"])
        let his = try bob.deploy(w.t.id, command: "configure")
        #expect(try w.caller.deployments(["DeploymentIds": [his]])[0]["IamUserArn"] as? String == Self.bob)
    }

    @Test("The stack's creator gets manage on it; other callers get nothing")
    func creatorManages() throws {
        let w = try Self.world(.noGrant, .own)
        let s = try w.caller.stack("mine", region: "us-west-1")
        let p = try w.caller.call("DescribePermissions", ["StackId": s])["Permissions"] as! [[String: Any]]
        #expect(p.count == 1)
        #expect(p.first?["IamUserArn"] as? String == Self.alice)
        #expect(p.first?["Level"] as? String == "manage")
        // The Arn the stack answers with names the creator's account.
        let stack = try Self.item(w, "DescribeStacks", "Stacks", "StackIds", s)
        #expect(stack["Arn"] as? String == "arn:aws:opsworks:us-west-1:\(Self.aliceAccount):stack/\(s)/")
        let layer = try w.caller.layer(s)
        let i = try w.caller.instance(s, layers: [layer])
        _ = try w.caller.deploy(s, command: "setup", extra: ["InstanceIds": [i]])
        try w.caller.call("SetPermission", ["StackId": s, "IamUserArn": Self.bob, "Level": "show"])
        // bob now shows, but nothing more.
        let bob = w.f.as(Self.bob)
        let seen = (try bob.call("DescribeStacks")["Stacks"] as! [[String: Any]]).map { $0["StackId"] as! String }
        #expect(seen == [w.t.id, w.o.id, s])
        bob.expectError("CreateLayer", ["StackId": s, "Type": "custom", "Name": "x", "Shortname": "x"], "AccessDeniedException",
                        "User: \(Self.bob) is not authorized to perform: opsworks:CreateLayer on resource: arn:aws:opsworks:us-west-1:123456789012:stack/\(s)/")
        // A stack the embedding program creates has no permissions at all.
        let e = try w.f.stack("theirs")
        #expect((try w.f.call("DescribePermissions", ["StackId": e])["Permissions"] as! [Any]).isEmpty)
        w.caller.expectError("DescribeStacks", ["StackIds": [e]], "AccessDeniedException")
    }

    @Test("A caller cannot set its own level (ValidationException), with or without Level; refusal comes first without manage")
    func ownLevel() throws {
        let w = try Self.world(.manage, .own)
        try Self.expectUnchanged(w) {
            for request: [String: Any] in [["StackId": w.t.id, "IamUserArn": Self.alice, "Level": "show"],
                                           ["StackId": w.t.id, "IamUserArn": Self.alice, "Level": "manage"],
                                           ["StackId": w.t.id, "IamUserArn": Self.alice, "AllowSsh": true]] {
                guard let e = w.caller.error("SetPermission", request) else { continue }
                #expect(e.type == "ValidationException", "\(request): \(e.message)")
                #expect(e.message.contains("own"), "\(e.message)")
            }
        }
        let shower = try Self.world(.show, .own)
        try Self.expectUnchanged(shower) {
            shower.caller.expectError("SetPermission", ["StackId": shower.t.id, "IamUserArn": Self.alice, "Level": "manage"],
                                      "AccessDeniedException", Self.denied("SetPermission", shower))
        }
        // The embedding program has no level of its own: it sets alice's.
        try w.f.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.alice, "Level": "show"])
        w.caller.expectError("CreateLayer", ["StackId": w.t.id, "Type": "custom", "Name": "x", "Shortname": "x"],
                             "AccessDeniedException", Self.denied("CreateLayer", w))
    }

    @Test("A new permission without Level is iam_only; an existing one keeps its level, and only what is given changes")
    func levelDefaults() throws {
        let w = try Self.world(.manage, .own)
        func permission(_ arn: String) throws -> [String: Any]? {
            (try w.f.call("DescribePermissions", ["StackId": w.t.id, "IamUserArn": arn])["Permissions"] as! [[String: Any]]).first
        }
        try w.f.call("CreateUserProfile", ["IamUserArn": Self.carol])
        try w.caller.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.carol, "AllowSsh": true])
        #expect(canonical(try permission(Self.carol) ?? [:]) == canonical(
            ["StackId": w.t.id, "IamUserArn": Self.carol, "Level": "iam_only", "AllowSsh": true, "AllowSudo": false]))
        // iam_only: nothing on the stack.
        w.f.as(Self.carol).expectError("DescribeStacks", ["StackIds": [w.t.id]], "AccessDeniedException")
        // bob has show on t: a call without Level keeps it.
        try w.caller.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.bob, "AllowSudo": true])
        #expect(canonical(try permission(Self.bob) ?? [:]) == canonical(
            ["StackId": w.t.id, "IamUserArn": Self.bob, "Level": "show", "AllowSsh": false, "AllowSudo": true]))
        try w.caller.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.bob, "Level": "deny"])
        #expect(canonical(try permission(Self.bob) ?? [:]) == canonical(
            ["StackId": w.t.id, "IamUserArn": Self.bob, "Level": "deny", "AllowSsh": false, "AllowSudo": true]))
        // A lowered level applies at once to a handle opened before.
        w.f.as(Self.bob).expectError("DescribeDeployments", ["StackId": w.t.id], "AccessDeniedException",
                                     "User: \(Self.bob) is not authorized to perform: opsworks:DescribeDeployments on resource: arn:aws:opsworks:eu-west-1:123456789012:stack/\(w.t.id)/")
    }

    @Test("SetPermission for a user without a profile is ResourceNotFoundException, for the embedding program and a manager")
    func setPermissionNeedsProfile() throws {
        let w = try Self.world(.manage, .own)
        try Self.expectUnchanged(w) {
            for f in [w.f, w.caller] {
                f.expectError("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.carol, "Level": "show"],
                              "ResourceNotFoundException", "Unable to find user with ARN \(Self.carol)")
                f.expectError("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.carol],
                              "ResourceNotFoundException", "Unable to find user with ARN \(Self.carol)")
            }
        }
    }

    @Test("A Level outside AWS's five is a ValidationException after the permission check")
    func badLevel() throws {
        let w = try Self.world(.show, .own)
        let request: [String: Any] = ["StackId": w.t.id, "IamUserArn": Self.bob, "Level": "admin"]
        try Self.expectUnchanged(w) {
            w.caller.expectError("SetPermission", request, "AccessDeniedException", Self.denied("SetPermission", w))
            w.f.expectError("SetPermission", request, "ValidationException")
            let x = unknownID()
            w.f.expectError("SetPermission", ["StackId": x, "IamUserArn": Self.bob, "Level": "admin"],
                            "ResourceNotFoundException", "Unable to find stack with ID \(x)")
        }
    }

    @Test("CreateUserProfile and DescribeUserProfiles are the embedding program's, refused to every identified caller",
          arguments: [Grant.deny, .show, .manage])
    func profilesForTheEmbedder(_ grant: Grant) throws {
        let w = try Self.world(grant, .own)
        try Self.expectUnchanged(w) {
            for (op, request): (String, [String: Any]) in [("CreateUserProfile", ["IamUserArn": Self.carol]),
                                                           ("CreateUserProfile", ["IamUserArn": Self.bob]),
                                                           ("DescribeUserProfiles", [:]),
                                                           ("DescribeUserProfiles", ["IamUserArns": [Self.alice]])] {
                w.caller.expectError(op, request, "AccessDeniedException",
                                     "User: \(Self.alice) is not authorized to perform: opsworks:\(op) on resource: *")
            }
        }
        // Even the creator of a stack.
        _ = try w.caller.stack("mine")
        w.caller.expectError("DescribeUserProfiles", [:], "AccessDeniedException")
        let profiles = try w.f.call("DescribeUserProfiles")["UserProfiles"] as! [[String: Any]]
        #expect(profiles.map { $0["IamUserArn"] as! String } == [Self.alice, Self.bob])
    }

    @Test("DescribePermissions by StackId, by IamUserArn, by both, and by neither")
    func describePermissionsForms() throws {
        let w = try Self.world(.manage, .own)   // alice: manage on t and o
        func perms(_ f: Fixture, _ request: [String: Any]) throws -> [String] {
            (try f.call("DescribePermissions", request)["Permissions"] as! [[String: Any]]).map {
                "\($0["StackId"] as! String == w.t.id ? "t" : $0["StackId"] as! String == w.o.id ? "o" : "?") "
                    + "\(($0["IamUserArn"] as! String).split(separator: "/").last!) \($0["Level"] as! String)"
                    + " ssh=\($0["AllowSsh"] as! Bool) sudo=\($0["AllowSudo"] as! Bool)"
            }
        }
        for f in [w.f, w.caller] {
            #expect(try perms(f, ["StackId": w.t.id]) == ["t bob show ssh=false sudo=false", "t alice manage ssh=false sudo=false"])
            #expect(try perms(f, ["IamUserArn": Self.bob]) == ["t bob show ssh=false sudo=false", "o bob deploy ssh=true sudo=false"])
            #expect(try perms(f, ["StackId": w.o.id, "IamUserArn": Self.bob]) == ["o bob deploy ssh=true sudo=false"])
            #expect(try perms(f, [:]).count == 4)
        }
        // The one permission, when there is none: an empty list.
        try w.f.call("CreateUserProfile", ["IamUserArn": Self.carol])
        #expect(try perms(w.caller, ["StackId": w.t.id, "IamUserArn": Self.carol]) == [])
        // bob (show on t, deploy on o) manages no stack: refused by StackId, and nothing listed
        // without one, not even his own permissions.
        let bob = w.f.as(Self.bob)
        bob.expectError("DescribePermissions", ["StackId": w.t.id], "AccessDeniedException",
                        "User: \(Self.bob) is not authorized to perform: opsworks:DescribePermissions on resource: arn:aws:opsworks:eu-west-1:123456789012:stack/\(w.t.id)/")
        bob.expectError("DescribePermissions", ["StackId": w.o.id, "IamUserArn": Self.bob], "AccessDeniedException")
        #expect(try perms(bob, ["IamUserArn": Self.bob]) == [])
        #expect(try perms(bob, [:]) == [])
    }

    @Test("A permission set through one store handle is seen at once by another handle on the same file")
    func permissionsAcrossHandles() throws {
        let w = try Self.world(.noGrant, .own)
        let other = Fixture(store: try Store(path: w.path, options: StoreOptions(clock: { exampleTime }, durability: .off),
                                             caller: Self.alice), clock: w.f.clock)
        other.expectError("DescribeDeployments", ["StackId": w.t.id], "AccessDeniedException", Self.denied("DescribeDeployments", w))
        other.expectError("CreateDeployment", ["StackId": w.t.id, "Command": ["Name": "setup"]], "AccessDeniedException",
                          Self.denied("CreateDeployment", w))
        try w.f.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.alice, "Level": "deploy"])
        #expect(try other.deployments(["StackId": w.t.id]).count == 1)
        let d = try other.deploy(w.t.id, command: "setup")
        #expect(try w.f.deployments(["DeploymentIds": [d]])[0]["IamUserArn"] as? String == Self.alice)
        try w.f.call("SetPermission", ["StackId": w.t.id, "IamUserArn": Self.alice, "Level": "iam_only"])
        other.expectError("DescribeDeployments", ["DeploymentIds": [d]], "AccessDeniedException", Self.denied("DescribeDeployments", w))
        let visible = try other.deployments()
        #expect(visible.allSatisfy { $0["StackId"] as? String != w.t.id })
    }
}
