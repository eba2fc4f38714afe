import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 9: app versions, rollback, and Windows instances.
@Suite("Section 9: app versions, rollback, Windows")
struct AppVersionTests {
    /// A stack with one online Linux instance and an app named "v1".
    func setUp() throws -> (Fixture, String, String) {
        let f = try Fixture()
        let stack = try f.stack()
        let layer = try f.layer(stack)
        _ = try f.instance(stack, layers: [layer])
        let app = try f.call("CreateApp", ["StackId": stack, "Name": "v1", "Type": "other"])["AppId"] as! String
        return (f, stack, app)
    }

    func appName(_ f: Fixture, _ app: String) throws -> String {
        let apps = try f.call("DescribeApps", ["AppIds": [app]])["Apps"] as! [[String: Any]]
        return apps[0]["Name"] as! String
    }

    func rollback(_ f: Fixture, _ stack: String, _ app: String) throws -> [String: Any] {
        let id = try f.deploy(stack, app: app, command: "rollback")
        return try f.deployments(["DeploymentIds": [id]])[0]
    }

    @Test("UpdateApp makes a new current version from the app's members with the update applied")
    func updateAppAppliesUpdate() throws {
        let (f, _, app) = try setUp()
        try f.call("UpdateApp", ["AppId": app, "Description": "first"])
        try f.call("UpdateApp", ["AppId": app, "Name": "v2"])
        let a = (try f.call("DescribeApps", ["AppIds": [app]])["Apps"] as! [[String: Any]])[0]
        #expect(a["Name"] as? String == "v2")
        #expect(a["Description"] as? String == "first")
        #expect(a["Type"] as? String == "other")
    }

    @Test("UpdateApp of an unknown app is ResourceNotFoundException")
    func updateUnknownApp() throws {
        let (f, _, _) = try setUp()
        let missing = UUID().uuidString.lowercased()
        #expect(f.error("UpdateApp", ["AppId": missing]) == .notFound("Unable to find app with ID \(missing)"))
    }

    @Test("A rollback moves the app back one version at creation; DescribeApps shows it at once")
    func rollbackMovesBack() throws {
        let (f, stack, app) = try setUp()
        try f.call("UpdateApp", ["AppId": app, "Name": "v2"])
        let d = try rollback(f, stack, app)
        #expect(d["Status"] as? String == "running")
        #expect(try appName(f, app) == "v1")
    }

    @Test("Five updates keep five versions; four rollbacks succeed; a fifth rollback fails and changes nothing")
    func fiveUpdatesFourRollbacks() throws {
        let (f, stack, app) = try setUp()
        for n in 2...6 { try f.call("UpdateApp", ["AppId": app, "Name": "v\(n)"]) }   // v1 is dropped: six made
        #expect(try appName(f, app) == "v6")
        for expected in ["v5", "v4", "v3", "v2"] {
            let d = try rollback(f, stack, app)
            #expect(d["Status"] as? String == "running")
            #expect(try appName(f, app) == expected)
        }
        f.clock.advance(7)
        let failed = try rollback(f, stack, app)
        #expect(failed["Status"] as? String == "failed")
        #expect(failed["CompletedAt"] as? String == failed["CreatedAt"] as? String)
        #expect(failed["Duration"] as? Int == 0)
        #expect(try appName(f, app) == "v2")
        let commands = try f.commands(["DeploymentId": failed["DeploymentId"] as! String])
        #expect(!commands.isEmpty)
        for c in commands {
            #expect(c["Status"] as? String == "failed")
            #expect(c["ExitCode"] as? Int == 1)
            #expect(c["CompletedAt"] as? String == c["CreatedAt"] as? String)
        }
    }

    @Test("UpdateApp after rollbacks adds a version on top of the current one, and a deploy after it runs")
    func updateAfterRollback() throws {
        let (f, stack, app) = try setUp()
        try f.call("UpdateApp", ["AppId": app, "Name": "v2"])
        try f.call("UpdateApp", ["AppId": app, "Name": "v3"])
        _ = try rollback(f, stack, app)
        _ = try rollback(f, stack, app)
        #expect(try appName(f, app) == "v1")
        try f.call("UpdateApp", ["AppId": app, "Name": "v4"])
        #expect(try appName(f, app) == "v4")
        let deploy = try f.deploy(stack, app: app)
        #expect(try f.deployments(["DeploymentIds": [deploy]])[0]["Status"] as? String == "running")
        _ = try rollback(f, stack, app)
        #expect(try appName(f, app) == "v1")
    }

    @Test("A rollback with only one version is created already failed")
    func rollbackWithOneVersion() throws {
        let (f, stack, app) = try setUp()
        let d = try rollback(f, stack, app)
        #expect(d["Status"] as? String == "failed")
        #expect(d["Duration"] as? Int == 0)
        #expect(try appName(f, app) == "v1")
    }

    @Test("Dependency commands on Windows instances are created successful with ExitCode 0")
    func windowsDependencies() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let layer = try f.layer(stack)
        _ = try f.instance(stack, layers: [layer], os: "Microsoft Windows Server 2019 Base")
        for name in ["install_dependencies", "update_dependencies"] {
            let id = try f.deploy(stack, command: name)
            let d = try f.deployments(["DeploymentIds": [id]])[0]
            #expect(d["Status"] as? String == "successful")
            #expect(d["CompletedAt"] as? String == d["CreatedAt"] as? String)
            #expect(d["Duration"] as? Int == 0)
            for c in try f.commands(["DeploymentId": id]) {
                #expect(c["Status"] as? String == "successful")
                #expect(c["ExitCode"] as? Int == 0)
                #expect(c["CompletedAt"] as? String == c["CreatedAt"] as? String)
            }
        }
        // Other commands run on Windows as on Linux.
        let configure = try f.deploy(stack, command: "configure")
        #expect(try f.deployments(["DeploymentIds": [configure]])[0]["Status"] as? String == "running")
    }

    @Test("A mixed Linux/Windows dependency deployment waits for the Linux commands only")
    func mixedWindowsLinux() throws {
        let f = try Fixture()
        let stack = try f.stack()
        let layer = try f.layer(stack)
        _ = try f.instance(stack, layers: [layer], os: "Microsoft Windows Server 2022 Base")
        let linux = try f.instance(stack, layers: [layer], os: "Amazon Linux 2")
        let id = try f.deploy(stack, command: "install_dependencies")
        #expect(try f.deployments(["DeploymentIds": [id]])[0]["Status"] as? String == "running")
        let pending = try f.commands(["DeploymentId": id]).filter { $0["Status"] as? String == "pending" }
        #expect(pending.count == 1)
        #expect(pending[0]["InstanceId"] as? String == linux)
        f.clock.advance(30)
        try f.complete(pending[0]["CommandId"] as! String, "failed", exitCode: 2)
        let d = try f.deployments(["DeploymentIds": [id]])[0]
        #expect(d["Status"] as? String == "failed")
        #expect(d["Duration"] as? Int == 30)
    }
}
