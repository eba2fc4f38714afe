import Foundation
@testable import OwdCore
import Testing

/// behaviour.md section 4: CreateDeployment.
@Suite("CreateDeployment (section 4)")
struct CreateDeploymentTests {
    static let stackCommands = ["install_dependencies", "update_dependencies", "update_custom_cookbooks",
                                "execute_recipes", "configure", "setup"]
    static let appCommands = ["deploy", "rollback", "start", "stop", "restart", "undeploy"]

    /// A stack with an app, a layer and one online instance.
    struct World {
        let f: Fixture
        let stack: String, app: String, layer: String, instance: String
    }

    static func world(path: String? = nil) throws -> World {
        let f = try Fixture(path: path)
        let s = try f.stack()
        let layer = try f.layer(s)
        return World(f: f, stack: s, app: try f.app(s), layer: layer, instance: try f.instance(s, layers: [layer]))
    }

    static func args(for command: String) -> [String: [String]]? {
        command == "execute_recipes" ? ["recipes": ["phpapp::appsetup"]] : nil
    }

    func described(_ f: Fixture, _ d: String) throws -> [String: Any] {
        try f.deployments(["DeploymentIds": [d]])[0]
    }

    /// Expects the call to fail with `type`/`message` and to leave the store as it was.
    func expectFailure(_ w: World, _ req: [String: Any], _ type: String, _ message: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try w.f.dump()
        w.f.expectError("CreateDeployment", req, type, message, sourceLocation: sourceLocation)
        #expect(try w.f.dump() == before, "a failed CreateDeployment changed the store", sourceLocation: sourceLocation)
    }

    @Test("CreateDeployment: the response is {\"DeploymentId\": <lowercase v4 uuid>}")
    func response() throws {
        let w = try Self.world()
        let r = try w.f.call("CreateDeployment", ["StackId": w.stack, "Command": ["Name": "deploy"], "AppId": w.app])
        #expect(r.count == 1)
        #expect(isLowercaseV4UUID(r["DeploymentId"] as! String))
    }

    @Test("CreateDeployment: every stack command is accepted without AppId", arguments: stackCommands)
    func stackCommand(_ name: String) throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: name, args: Self.args(for: name))
        let got = try described(w.f, d)
        #expect((got["Command"] as? [String: Any])?["Name"] as? String == name)
        #expect(got["AppId"] == nil)
    }

    @Test("CreateDeployment: every app command is accepted with AppId", arguments: appCommands)
    func appCommand(_ name: String) throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, app: w.app, command: name)
        let got = try described(w.f, d)
        #expect((got["Command"] as? [String: Any])?["Name"] as? String == name)
        #expect(got["AppId"] as? String == w.app)
    }

    @Test("CreateDeployment: an app command without AppId is a ValidationException", arguments: appCommands)
    func appCommandWithoutApp(_ name: String) throws {
        let w = try Self.world()
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": name]], "ValidationException")
    }

    @Test("CreateDeployment: a stack command with AppId is a ValidationException", arguments: stackCommands)
    func stackCommandWithApp(_ name: String) throws {
        let w = try Self.world()
        var cmd: [String: Any] = ["Name": name]
        if let a = Self.args(for: name) { cmd["Args"] = a }
        try expectFailure(w, ["StackId": w.stack, "AppId": w.app, "Command": cmd], "ValidationException")
    }

    @Test("CreateDeployment: any other command name is a ValidationException",
          arguments: ["Deploy", "reboot", "", "execute-recipes", "deploy "])
    func unknownCommand(_ name: String) throws {
        let w = try Self.world()
        try expectFailure(w, ["StackId": w.stack, "AppId": w.app, "Command": ["Name": name]], "ValidationException")
    }

    @Test("CreateDeployment: unknown StackId is ResourceNotFoundException 'Unable to find stack with ID <id>'")
    func unknownStack() throws {
        let w = try Self.world()
        let id = unknownID()
        try expectFailure(w, ["StackId": id, "Command": ["Name": "configure"]], "ResourceNotFoundException",
                          "Unable to find stack with ID \(id)")
    }

    @Test("CreateDeployment: unknown AppId is ResourceNotFoundException 'Unable to find app with ID <id>'")
    func unknownApp() throws {
        let w = try Self.world()
        let id = unknownID()
        try expectFailure(w, ["StackId": w.stack, "AppId": id, "Command": ["Name": "deploy"]],
                          "ResourceNotFoundException", "Unable to find app with ID \(id)")
        // Unknown IDs come before the stack-command rule.
        try expectFailure(w, ["StackId": w.stack, "AppId": id, "Command": ["Name": "configure"]],
                          "ResourceNotFoundException", "Unable to find app with ID \(id)")
    }

    @Test("CreateDeployment: an app of another stack is a ValidationException")
    func appOfAnotherStack() throws {
        let w = try Self.world()
        let other = try w.f.stack("other")
        let foreign = try w.f.app(other)
        try expectFailure(w, ["StackId": w.stack, "AppId": foreign, "Command": ["Name": "deploy"]], "ValidationException")
    }

    @Test("CreateDeployment: execute_recipes without a non-empty Args.recipes is a ValidationException",
          arguments: [nil, [:], ["recipes": []], ["other": ["x"]]] as [[String: [String]]?])
    func executeRecipesNeedsRecipes(_ args: [String: [String]]?) throws {
        let w = try Self.world()
        var cmd: [String: Any] = ["Name": "execute_recipes"]
        if let args { cmd["Args"] = args }
        try expectFailure(w, ["StackId": w.stack, "Command": cmd], "ValidationException")
    }

    @Test("CreateDeployment: execute_recipes with recipes keeps them in order")
    func executeRecipesKept() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: "execute_recipes", args: ["recipes": ["b::x", "a::y", "b::x"]])
        let cmd = try described(w.f, d)["Command"] as! [String: Any]
        #expect((cmd["Args"] as? [String: [String]]) == ["recipes": ["b::x", "a::y", "b::x"]])
    }

    @Test("CreateDeployment: deploy with Args.migrate other than [\"true\"] or [\"false\"] is a ValidationException",
          arguments: [["yes"], ["True"], [], ["true", "false"], ["true", "true"], [""]] as [[String]])
    func deployMigrateInvalid(_ migrate: [String]) throws {
        let w = try Self.world()
        try expectFailure(w, ["StackId": w.stack, "AppId": w.app,
                              "Command": ["Name": "deploy", "Args": ["migrate": migrate]]], "ValidationException")
    }

    @Test("CreateDeployment: deploy with Args.migrate [\"true\"] or [\"false\"] is accepted", arguments: ["true", "false"])
    func deployMigrateValid(_ migrate: String) throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, app: w.app, args: ["migrate": [migrate]])
        let cmd = try described(w.f, d)["Command"] as! [String: Any]
        #expect((cmd["Args"] as? [String: [String]]) == ["migrate": [migrate]])
    }

    @Test("CreateDeployment: update_dependencies with upgrade_os_to but without allow_reboot == [\"true\"] is a ValidationException",
          arguments: [nil, ["false"]] as [[String]?])
    func upgradeNeedsReboot(_ reboot: [String]?) throws {
        let w = try Self.world()
        var args: [String: [String]] = ["upgrade_os_to": ["Amazon Linux 2016.09"]]
        if let reboot { args["allow_reboot"] = reboot }
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "update_dependencies", "Args": args]],
                          "ValidationException")
    }

    @Test("CreateDeployment: update_dependencies with allow_reboot other than [\"true\"] or [\"false\"] is a ValidationException",
          arguments: [["yes"], [], ["true", "true"]] as [[String]])
    func allowRebootInvalid(_ reboot: [String]) throws {
        let w = try Self.world()
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "update_dependencies", "Args": ["allow_reboot": reboot]]],
                          "ValidationException")
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "update_dependencies",
                                                               "Args": ["allow_reboot": reboot, "upgrade_os_to": ["x"]]]],
                          "ValidationException")
    }

    @Test("CreateDeployment: update_dependencies with upgrade_os_to and allow_reboot [\"true\"], or allow_reboot alone, is accepted")
    func upgradeAccepted() throws {
        let w = try Self.world()
        let args: [String: [String]] = ["upgrade_os_to": ["Amazon Linux 2016.09"], "allow_reboot": ["true"]]
        let d = try w.f.deploy(w.stack, command: "update_dependencies", args: args)
        #expect(((try described(w.f, d)["Command"] as! [String: Any])["Args"] as? [String: [String]]) == args)
        _ = try w.f.deploy(w.stack, command: "update_dependencies", args: ["allow_reboot": ["false"]])
        _ = try w.f.deploy(w.stack, command: "update_dependencies", args: ["allow_reboot": ["true"]])
    }

    @Test("CreateDeployment: other Args keys are kept as given, in order, empty lists included")
    func otherArgsKept() throws {
        let w = try Self.world()
        let text = try w.f.store.call("CreateDeployment", json: """
            {"StackId": "\(w.stack)", "AppId": "\(w.app)", "Command": {"Name": "deploy",
             "Args": {"zeta": ["1", "2"], "migrate": ["false"], "alpha": [], "Mixed Case": ["  spaced  ", ""]}}}
            """)
        let d = try parseResponse(text, "CreateDeployment")["DeploymentId"] as! String
        let cmd = try described(w.f, d)["Command"] as! [String: Any]
        #expect((cmd["Args"] as? [String: [String]]) ==
                ["zeta": ["1", "2"], "migrate": ["false"], "alpha": [], "Mixed Case": ["  spaced  ", ""]])
        // And in the order given.
        let raw = try w.f.text("DescribeDeployments", ["DeploymentIds": [d]])
        let positions = ["zeta", "migrate", "alpha", "Mixed Case"].map { raw.range(of: "\"\($0)\"")!.lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test("CreateDeployment: recipes, migrate, upgrade_os_to and allow_reboot are checked only for their own command, kept as given otherwise")
    func argsCheckedOnlyForTheirCommand() throws {
        let w = try Self.world()
        let odd: [String: [String]] = ["recipes": [], "migrate": ["maybe"], "upgrade_os_to": ["x"], "allow_reboot": ["no"]]
        for name in Self.stackCommands where name != "execute_recipes" && name != "update_dependencies" {
            let d = try w.f.deploy(w.stack, command: name, args: odd)
            #expect(((try described(w.f, d)["Command"] as! [String: Any])["Args"] as? [String: [String]]) == odd)
        }
        for name in Self.appCommands where name != "deploy" {
            let d = try w.f.deploy(w.stack, app: w.app, command: name, args: odd)
            #expect(((try described(w.f, d)["Command"] as! [String: Any])["Args"] as? [String: [String]]) == odd)
        }
        // deploy ignores recipes and the dependency keys; execute_recipes ignores migrate and reboot keys.
        _ = try w.f.deploy(w.stack, app: w.app, args: ["recipes": [], "upgrade_os_to": ["x"], "allow_reboot": ["no"]])
        _ = try w.f.deploy(w.stack, command: "execute_recipes",
                           args: ["recipes": ["r"], "migrate": ["maybe"], "upgrade_os_to": ["x"], "allow_reboot": ["no"]])
        _ = try w.f.deploy(w.stack, command: "update_dependencies", args: ["recipes": [], "migrate": ["maybe"]])
    }

    @Test("CreateDeployment: Command.Args is {} when none were given")
    func argsEmpty() throws {
        let w = try Self.world()
        let d1 = try w.f.deploy(w.stack, command: "configure")
        let d2 = try w.f.deploy(w.stack, command: "configure", args: [:])
        for d in [d1, d2] {
            let cmd = try described(w.f, d)["Command"] as! [String: Any]
            #expect(cmd.count == 2)
            #expect((cmd["Args"] as? [String: Any])?.isEmpty == true)
        }
        #expect(try w.f.text("DescribeDeployments", ["DeploymentIds": [d1]]).replacingOccurrences(of: " ", with: "").contains("\"Args\":{}"))
    }

    @Test("CreateDeployment: CustomJson that is not a JSON object is a ValidationException",
          arguments: ["[]", "\"text\"", "42", "null", "{", "", "not json", "{\"a\": 1} trailing", "{\"a\": 1}{}", "{'a': 1}"])
    func customJsonNotObject(_ custom: String) throws {
        let w = try Self.world()
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "CustomJson": custom], "ValidationException")
    }

    @Test("CreateDeployment: CustomJson longer than 122,880 bytes is a ValidationException; 122,880 bytes is accepted")
    func customJsonLimit() throws {
        let w = try Self.world()
        func object(_ bytes: Int) -> String {
            let pad = bytes - "{\"k\":\"\"}".utf8.count
            return "{\"k\":\"" + String(repeating: "x", count: pad) + "\"}"
        }
        #expect(object(122_880).utf8.count == 122_880)
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "CustomJson": object(122_881)],
                          "ValidationException")
        // Bytes, not characters: 61,441 two-byte characters are 122,882 bytes.
        let wide = "{\"k\":\"" + String(repeating: "é", count: 61_437) + "\"}"
        #expect(wide.utf8.count == 122_882)
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "CustomJson": wide], "ValidationException")
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["CustomJson": object(122_880)])
        #expect(try described(w.f, d)["CustomJson"] as? String == object(122_880))
    }

    @Test("CreateDeployment: an unknown InstanceIds entry is ResourceNotFoundException naming the first unknown in order")
    func unknownInstance() throws {
        let w = try Self.world()
        let bad1 = unknownID(), bad2 = unknownID()
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [w.instance, bad1, bad2]],
                          "ResourceNotFoundException", "Unable to find instance with ID \(bad1)")
    }

    @Test("CreateDeployment: an unknown LayerIds entry is ResourceNotFoundException naming the first unknown in order")
    func unknownLayer() throws {
        let w = try Self.world()
        let bad1 = unknownID(), bad2 = unknownID()
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "LayerIds": [w.layer, bad1, bad2]],
                          "ResourceNotFoundException", "Unable to find layer with ID \(bad1)")
    }

    @Test("CreateDeployment: an instance or layer of another stack is a ValidationException")
    func targetOfAnotherStack() throws {
        let w = try Self.world()
        let other = try w.f.stack("other")
        let otherLayer = try w.f.layer(other)
        let otherInstance = try w.f.instance(other, layers: [otherLayer])
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [otherInstance]],
                          "ValidationException")
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "LayerIds": [otherLayer]],
                          "ValidationException")
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [w.instance],
                              "LayerIds": [w.layer, otherLayer]], "ValidationException")
    }

    @Test("CreateDeployment: a named instance that is not online is a ValidationException")
    func namedInstanceNotOnline() throws {
        let w = try Self.world()
        let stopped = try w.f.instance(w.stack, layers: [w.layer], online: false)
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [w.instance, stopped]],
                          "ValidationException")
        try w.f.stop(w.instance)
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [w.instance]],
                          "ValidationException")
    }

    @Test("CreateDeployment: targets are InstanceIds in the order given, then each layer's online instances in creation order, each once")
    func targetOrder() throws {
        let f = try Fixture()
        let s = try f.stack()
        let web = try f.layer(s, "web"), db = try f.layer(s, "db"), empty = try f.layer(s, "empty")
        let a = try f.instance(s, layers: [web])
        let b = try f.instance(s, layers: [db, web])
        let c = try f.instance(s, layers: [db])
        let off = try f.instance(s, layers: [web, db], online: false)
        let d = try f.instance(s, layers: [web])
        _ = off
        let dep = try f.deploy(s, command: "configure",
                               extra: ["InstanceIds": [c, d, c], "LayerIds": [empty, web, db, web]])
        // c, d named; then web: a, b (d already); then db: (b, c already).
        #expect(try f.deployments(["DeploymentIds": [dep]])[0]["InstanceIds"] as? [String] == [c, d, a, b])
        let cmds = try f.commands(["DeploymentId": dep])
        #expect(cmds.map { $0["InstanceId"] as! String } == [c, d, a, b])

        let onlyLayers = try f.deploy(s, command: "configure", extra: ["LayerIds": [db, web]])
        #expect(try f.deployments(["DeploymentIds": [onlyLayers]])[0]["InstanceIds"] as? [String] == [b, c, a, d])
        let onlyInstances = try f.deploy(s, command: "configure", extra: ["InstanceIds": [d, a]])
        #expect(try f.deployments(["DeploymentIds": [onlyInstances]])[0]["InstanceIds"] as? [String] == [d, a])
    }

    @Test("CreateDeployment: a layer's stopped instances are not targets, and started ones are")
    func layerOnlineOnly() throws {
        let f = try Fixture()
        let s = try f.stack()
        let web = try f.layer(s)
        let a = try f.instance(s, layers: [web], online: false)
        let b = try f.instance(s, layers: [web])
        let first = try f.deploy(s, command: "configure", extra: ["LayerIds": [web]])
        #expect(try f.deployments(["DeploymentIds": [first]])[0]["InstanceIds"] as? [String] == [b])
        try f.start(a)
        let second = try f.deploy(s, command: "configure", extra: ["LayerIds": [web]])
        #expect(try f.deployments(["DeploymentIds": [second]])[0]["InstanceIds"] as? [String] == [a, b])
    }

    @Test("CreateDeployment: with neither InstanceIds nor LayerIds (empty lists count as not given) every online instance of the stack is a target, in creation order")
    func allOnlineInstances() throws {
        let f = try Fixture()
        let s = try f.stack()
        let other = try f.stack("other")
        let web = try f.layer(s), db = try f.layer(s, "db")
        let a = try f.instance(s, layers: [db])
        _ = try f.instance(other, layers: [try f.layer(other)])
        _ = try f.instance(s, layers: [web], online: false)
        let b = try f.instance(s, layers: [web])
        let c = try f.instance(s, layers: [web, db])
        for extra: [String: Any] in [[:], ["InstanceIds": []], ["LayerIds": []], ["InstanceIds": [], "LayerIds": []]] {
            let d = try f.deploy(s, command: "configure", extra: extra)
            #expect(try f.deployments(["DeploymentIds": [d]])[0]["InstanceIds"] as? [String] == [a, b, c], "\(extra)")
        }
    }

    @Test("CreateDeployment: an empty target set is a ValidationException 'No online instances to run <name> on'")
    func noTargets() throws {
        let f = try Fixture()
        let s = try f.stack()
        let app = try f.app(s)
        let web = try f.layer(s), empty = try f.layer(s, "empty")
        let w = World(f: f, stack: s, app: app, layer: web, instance: try f.instance(s, layers: [web], online: false))
        try expectFailure(w, ["StackId": s, "AppId": app, "Command": ["Name": "deploy"]],
                          "ValidationException", "No online instances to run deploy on")
        try expectFailure(w, ["StackId": s, "Command": ["Name": "execute_recipes", "Args": ["recipes": ["r"]]]],
                          "ValidationException", "No online instances to run execute_recipes on")
        try expectFailure(w, ["StackId": s, "Command": ["Name": "setup"], "LayerIds": [web, empty]],
                          "ValidationException", "No online instances to run setup on")
        // An empty stack too.
        let bare = try f.stack("bare")
        try expectFailure(w, ["StackId": bare, "Command": ["Name": "configure"]],
                          "ValidationException", "No online instances to run configure on")
    }

    @Test("CreateDeployment: the deployment starts running with one pending command per target, Type = the command, CreatedAt = the deployment's")
    func effects() throws {
        let f = try Fixture()
        let s = try f.stack()
        let web = try f.layer(s)
        let app = try f.app(s)
        let a = try f.instance(s, layers: [web]), b = try f.instance(s, layers: [web])
        f.clock.advance(7)
        let d = try f.deploy(s, app: app, command: "restart")
        let got = try f.deployments(["DeploymentIds": [d]])[0]
        #expect(got["Status"] as? String == "running")
        #expect(got["CreatedAt"] as? String == Timestamp.string(exampleTime + 7))
        let cmds = try f.commands(["DeploymentId": d])
        #expect(cmds.count == 2)
        #expect(cmds.map { $0["InstanceId"] as! String } == [a, b])
        for c in cmds {
            #expect(Set(c.keys) == ["CommandId", "InstanceId", "DeploymentId", "CreatedAt", "Status", "Type"])
            #expect(c["Type"] as? String == "restart")
            #expect(c["Status"] as? String == "pending")
            #expect(c["CreatedAt"] as? String == got["CreatedAt"] as? String)
            #expect(c["DeploymentId"] as? String == d)
            #expect(isLowercaseV4UUID(c["CommandId"] as! String))
        }
    }

    @Test("CreateDeployment: Comment is kept exactly, and absent when not given")
    func comment() throws {
        let w = try Self.world()
        let d = try w.f.deploy(w.stack, command: "configure", extra: ["Comment": ""])
        #expect(try described(w.f, d)["Comment"] as? String == "")
    }

    @Test("CreateDeployment: shape errors come before unknown IDs")
    func shapeBeforeNotFound() throws {
        let w = try Self.world()
        let bad = unknownID()
        try expectFailure(w, ["StackId": bad, "Command": ["Name": "reboot"]], "ValidationException")
        try expectFailure(w, ["StackId": bad], "ValidationException", "Missing required parameter in input: \"Command\"")
        try expectFailure(w, ["StackId": bad, "Command": [:]], "ValidationException",
                          "Missing required parameter in input: \"Command.Name\"")
        try expectFailure(w, ["StackId": bad, "Command": ["Name": "configure"], "Bogus": 1], "ValidationException")
        try expectFailure(w, ["StackId": bad, "Command": ["Name": "configure"], "InstanceIds": [1]], "ValidationException")
        // The CustomJson size limit is a shape limit.
        try expectFailure(w, ["StackId": bad, "Command": ["Name": "configure"],
                              "CustomJson": "{\"k\":\"" + String(repeating: "x", count: 130_000) + "\"}"], "ValidationException")
    }

    @Test("CreateDeployment: unknown IDs are reported in request order, the stack first")
    func notFoundOrder() throws {
        let w = try Self.world()
        let (s, a, i, l) = (unknownID(), unknownID(), unknownID(), unknownID())
        func req(_ stack: String, _ app: String, _ inst: String, _ layer: String) -> String {
            """
            {"StackId": "\(stack)", "AppId": "\(app)", "InstanceIds": ["\(inst)"], "LayerIds": ["\(layer)"],
             "Command": {"Name": "deploy"}}
            """
        }
        let before = try w.f.dump()
        w.f.expectRawError("CreateDeployment", req(s, a, i, l), "ResourceNotFoundException", "Unable to find stack with ID \(s)")
        w.f.expectRawError("CreateDeployment", req(w.stack, a, i, l), "ResourceNotFoundException", "Unable to find app with ID \(a)")
        w.f.expectRawError("CreateDeployment", req(w.stack, w.app, i, l), "ResourceNotFoundException", "Unable to find instance with ID \(i)")
        w.f.expectRawError("CreateDeployment", req(w.stack, w.app, w.instance, l), "ResourceNotFoundException", "Unable to find layer with ID \(l)")
        #expect(try w.f.dump() == before)
    }

    @Test("CreateDeployment: unknown IDs come before the operation's other rules")
    func notFoundBeforeOtherRules() throws {
        let w = try Self.world()
        let bad = unknownID()
        // An app command without AppId, but an unknown instance.
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "deploy"], "InstanceIds": [bad]],
                          "ResourceNotFoundException", "Unable to find instance with ID \(bad)")
        // execute_recipes without recipes, but an unknown layer.
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "execute_recipes"], "LayerIds": [bad]],
                          "ResourceNotFoundException", "Unable to find layer with ID \(bad)")
        // Bad CustomJson and a bad migrate, but an unknown app.
        try expectFailure(w, ["StackId": w.stack, "AppId": bad, "CustomJson": "[]",
                              "Command": ["Name": "deploy", "Args": ["migrate": ["x"]]]],
                          "ResourceNotFoundException", "Unable to find app with ID \(bad)")
        // An instance of another stack and a stopped one are not "unknown": the unknown one wins.
        let other = try w.f.stack("other")
        let foreign = try w.f.instance(other, layers: [try w.f.layer(other)])
        try expectFailure(w, ["StackId": w.stack, "Command": ["Name": "configure"], "InstanceIds": [foreign, bad]],
                          "ResourceNotFoundException", "Unable to find instance with ID \(bad)")
    }

    @Test("CreateDeployment: a deployment created in a store file is there after reopening it")
    func persisted() throws {
        let path = sharedStorePath()
        let w = try Self.world(path: path)
        let d = try w.f.deploy(w.stack, app: w.app, args: ["migrate": ["true"]], extra: ["Comment": "c", "CustomJson": "{}"])
        let before = try described(w.f, d)
        let reopened = try Fixture(path: path)
        let after = try reopened.deployments(["DeploymentIds": [d]])[0]
        #expect(canonical(before) == canonical(after))
        #expect(try reopened.commands(["DeploymentId": d]).count == 1)
    }

    @Test("CreateDeployment: a new deployment is visible as soon as the call returns, from every thread", arguments: [false, true])
    func visibleFromEveryThread(_ file: Bool) throws {
        let w = try Self.world(path: file ? sharedStorePath() : nil)
        let threads = 4, each = 8
        let lock = NSLock()
        var created: [String] = []
        var problems: [String] = []
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<each {
                do {
                    let d = try w.f.deploy(w.stack, command: "configure")
                    // Seen at once by this thread, through each form.
                    if try w.f.deployments(["DeploymentIds": [d]]).count != 1 { throw OwdError.internal("not seen by id") }
                    if !(try w.f.deployments(["StackId": w.stack]).contains { $0["DeploymentId"] as? String == d }) {
                        throw OwdError.internal("not seen by stack")
                    }
                    lock.lock(); created.append(d); lock.unlock()
                } catch {
                    lock.lock(); problems.append("\(error)"); lock.unlock()
                }
            }
        }
        #expect(problems.isEmpty, "\(problems)")
        let all = try w.f.deployments(["StackId": w.stack]).map { $0["DeploymentId"] as! String }
        #expect(all.count == threads * each)
        #expect(Set(all) == Set(created))
        #expect(try w.f.commands([:]).count == threads * each)
    }
}
