import ArgumentParser
import OwdAgent
import OwdCore
import OwdServer
#if canImport(Glibc)
import Glibc
#endif

/// The owd program: each job a subcommand; the logic lives in OwdCore and OwdServer.
struct OwdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owd",
        abstract: "AWS OpsWorks Stacks' API, self-hosted.",
        subcommands: [Serve.self, AgentCommand.self, Export.self, Import.self, ModelCommand.self])
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer the AWS JSON 1.1 OpsWorks endpoint (SigV4), so the aws CLI and every SDK use the store.",
        discussion: """
        Once it accepts connections, the first line on stdout is `owd: listening on http://HOST:PORT` \
        (https:// with --tls-cert and --tls-key: then HTTPS only). Clients reach it with the model \
        installed (`owd model install`) and AWS_ENDPOINT_URL_OPSWORKS=http://HOST:PORT (with TLS, \
        AWS_CA_BUNDLE=CA-FILE when the certificate is not from the system's trust store). Over plain \
        HTTP, a PollCommands call from a peer that is not this machine gets no secret: its answer \
        says why in SecretsWithheld. GET /health and GET /metrics (Prometheus' text format; off \
        with --no-metrics) need no signature. SIGINT or SIGTERM: stop accepting, finish the \
        requests in flight (at most 10 s), close the store, exit 0. One line per request on stderr \
        (time, operation, status, duration, request id, caller; never a secret, signature or body).
        """)

    @Option(help: "The store: a file (SQLite), created when missing; or a postgresql:// URI (libpq's syntax: sslmode, PGPASSWORD and ~/.pgpass work), its tables created on first use.")
    var store: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The TCP port (0: any free port, printed on the first line).")
    var port = 4566

    @Option(help: "The region requests must be signed for (SigV4 scope).")
    var region = "us-east-1"

    @Option(help: ArgumentHelp("The credentials file: {\"Credentials\": [{\"AccessKeyId\", \"SecretAccessKey\", \"IamUserArn\"}]} (IamUserArn absent: the store's owner). Refused when group or others can read it.", valueName: "file"))
    var credentials: String?

    @Option(help: ArgumentHelp("Serve HTTPS only, with this PEM certificate (chain: the server's first). Needs --tls-key.", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The PEM private key of --tls-cert (unencrypted). Refused when group or others can read it.", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Serve no GET /metrics (Prometheus' text format, without authentication, like /health).")
    var noMetrics = false

    @Flag(help: "Check no signature: every request acts as the store's owner (tests only).")
    var noAuth = false

    @Flag(help: "No log line per request on stderr.")
    var quiet = false

    @Option(help: ArgumentHelp("An instance whose agent has not polled for this long shows connection_lost (section 14).", valueName: "seconds"))
    var connectionLostAfter = 90

    @Option(help: ArgumentHelp("Where clients reach this server, for the commands' log URLs (default: http://HOST:PORT).", valueName: "url"))
    var publicUrl: String?

    @Option(help: ArgumentHelp("Agents' PollCommands calls that may wait at once (a waiting poll holds its connection, no thread); past them a poll answers at once.", valueName: "n"))
    var maxWaitingPolls = 512

    @Option(help: .hidden)
    var idleTimeout = 30

    /// Seconds a log URL works (tests of expiry; 3600 as section 14 says otherwise).
    @Option(help: .hidden)
    var logUrlLifetime = 3600

    /// The HTTP thread pool: one epoll thread per core by default.
    @Option(help: .hidden)
    var threads = max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    func validate() throws {
        if (credentials == nil) == !noAuth {
            throw ValidationError("give exactly one of --credentials FILE and --no-auth")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1...3600 seconds") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64") }
        guard !region.isEmpty else { throw ValidationError("--region must not be empty") }
        guard (1...86400).contains(connectionLostAfter) else { throw ValidationError("--connection-lost-after must be 1...86400 seconds") }
        guard (0...1000).contains(maxWaitingPolls) else { throw ValidationError("--max-waiting-polls must be 0...1000") }
        guard (1...86400).contains(logUrlLifetime) else { throw ValidationError("--log-url-lifetime must be 1...86400 seconds") }
        if let publicUrl, !(publicUrl.hasPrefix("http://") || publicUrl.hasPrefix("https://")) {
            throw ValidationError("--public-url must start with http:// or https://")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("give both --tls-cert FILE and --tls-key FILE (HTTPS), or neither (plain HTTP)")
        }
        if tlsCert != nil, let publicUrl, publicUrl.hasPrefix("http://") {
            throw ValidationError("--public-url must be https:// when the server serves TLS")
        }
    }

    func run() throws {
        // Signals are taken by sigwait below: blocked before any thread starts, so every
        // server thread inherits the mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        var verifier: SigV4Verifier?
        if let credentials {
            do {
                let list = try CredentialsFile.load(path: credentials)
                verifier = SigV4Verifier(region: region, credentials: list, clock: { Int64(time(nil)) })
            } catch let e as CredentialsFile.Failure {
                fail(e.description)
            }
        }
        var tls: TLSIdentity?
        if let tlsCert, let tlsKey {
            do {
                tls = try TLSIdentity.load(certificate: tlsCert, key: tlsKey)
            } catch let e as CredentialsFile.Failure {
                fail(e.description)
            }
        }
        var opened: Store?
        do {
            opened = try Store(path: store, options: StoreOptions(connectionLostAfter: Int64(connectionLostAfter)))
        } catch let e as OwdError {
            fail("cannot open store \(Store.displayName(store)): \(e.message)")
        }
        let log = RequestLog(quiet: quiet)
        var options = Server.Options()
        options.host = host
        options.port = UInt16(port)
        options.idleTimeout = UInt32(idleTimeout)
        options.threads = UInt32(threads)
        options.tls = tls
        let endpoint = Endpoint(store: opened!, verifier: verifier)
        if !noMetrics { endpoint.metrics = ServerMetrics() }
        endpoint.waitingPollLimit = maxWaitingPolls
        // The log URLs' key is the store's (made once, kept there): URLs outlive a restart.
        let signer: LogURLSigner
        do {
            signer = LogURLSigner(key: try opened!.logURLKey(candidate: LogURLSigner.randomKey()), validFor: Int64(logUrlLifetime))
        } catch let e as OwdError {
            fail("cannot read the log URL key of store \(store): \(e.message)")
        }
        endpoint.serveLogs(signer)
        var server: Server?
        do {
            server = try Server(endpoint: endpoint, log: log, options: options)
        } catch let e as Server.StartFailure {
            fail(e.description)
        }
        opened = nil
        if noAuth {
            log.write("owd: --no-auth: no signature is checked, every request acts as the store's owner (for tests only)\n")
        }
        if let tls {
            let until = Time.line(tls.notAfter)
            log.write(tls.expired
                ? "owd: warning: the TLS certificate \(tlsCert!) expired at \(until): clients will refuse it\n"
                : "owd: TLS: HTTPS only, certificate \(tlsCert!) valid until \(until)\n")
        } else if !["127.0.0.1", "::1", "localhost"].contains(host) && !host.hasPrefix("127.") {
            log.write("owd: plain HTTP on \(host): PollCommands from other machines gets no secret (serve with --tls-cert and --tls-key)\n")
        }
        let shown = host.contains(":") ? "[\(host)]" : host
        let scheme = tls == nil ? "http" : "https"
        var base = publicUrl ?? "\(scheme)://\(shown):\(server!.port)"
        while base.hasSuffix("/") { base.removeLast() }
        signer.baseURL = base
        print("owd: listening on \(scheme)://\(shown):\(server!.port)")
        fflush(stdout)

        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        let name = received == SIGINT ? "SIGINT" : "SIGTERM"
        server!.quiesce()
        // Waiting polls answer now (empty: their agents poll again, and find the server gone).
        server!.finishWaitingPolls()
        let pending = server!.inFlight
        log.write("owd: \(name): stopped accepting connections; finishing \(pending) request(s) in flight\n")
        var waited = 0
        while server!.inFlight > 0 && waited < 1000 {
            usleep(10_000)
            waited += 1
        }
        if server!.inFlight > 0 {
            log.write("owd: \(server!.inFlight) request(s) still in flight after 10 s: closing their connections\n")
        }
        server!.stop()
        server = nil   // the last reference to the store: closed here
        log.write("owd: store closed; exiting\n")
    }

    func fail(_ message: String) -> Never {
        let text = "owd: \(message)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(1)
    }
}

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the commands of one instance: each deployment's hook, reported back (behaviour.md section 14).",
        discussion: """
        The first start registers the instance (RegisterInstance) and keeps its ID in \
        STATE-DIR/instance.json; later starts reuse it. Then it polls PollCommands (WaitTimeSeconds \
        20, also while a hook runs) and runs each command, one at a time, oldest first: \
        AcknowledgeCommand, then HOOKS/<Type> (deploy, setup, configure, undeploy, ...) with stdin \
        /dev/null, in a fresh working folder under STATE-DIR/commands, in its own process group, with \
        OWD_COMMAND, OWD_COMMAND_ID, OWD_DEPLOYMENT_ID, OWD_STACK_ID, OWD_INSTANCE_ID, OWD_APP_ID (app \
        commands) and OWD_CONTEXT (a 0600 JSON file: the command as PollCommands gave it, Args, \
        CustomJson and the app with its secrets; removed after the hook); then CompleteCommand: \
        successful (exit 0), failed (another exit, a signal, --command-timeout) or skipped (no \
        executable hook), with ExitCode and the output (stdout and stderr together; the last \
        1 MiB). After a crash, the next start fails the commands that were running. Credentials: \
        AWS_PROFILE's profile of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, \
        ~/.aws/credentials; refused when others can read it), else AWS_ACCESS_KEY_ID and \
        AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), else the file's default profile. Once \
        running, stdout says `owd agent: instance ID polling URL`; stderr has one line per \
        command and per event. SIGTERM or SIGINT: finish the running hook (a second one \
        stops it now), report it, exit 0. See docs/agent.md.
        """)

    @Option(help: ArgumentHelp("The owd serve endpoint (http:// or https://).", valueName: "url"))
    var endpoint: String

    @Option(help: ArgumentHelp("The stack the instance belongs to.", valueName: "id"))
    var stackId: String

    @Option(help: ArgumentHelp("The folder of the hooks: an executable per command type (deploy, setup, ...).", valueName: "dir"))
    var hooks: String

    @Option(help: ArgumentHelp("The agent's own folder (created 0700): the instance ID, the commands' working folders.", valueName: "dir"))
    var stateDir: String

    @Option(help: ArgumentHelp("The instance's hostname at registration (default: the machine's).", valueName: "name"))
    var hostname: String?

    @Option(help: ArgumentHelp("The region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1).", valueName: "region"))
    var region: String?

    @Option(help: ArgumentHelp("A hook running longer is stopped (SIGTERM to its process group, SIGKILL 10 s later) and failed.", valueName: "seconds"))
    var commandTimeout: Double = 3600

    @Option(help: ArgumentHelp("The PEM certificates to trust for an https endpoint (default: the system's store).", valueName: "file"))
    var caFile: String?

    @Flag(help: "Do not check the https endpoint's certificate (tests only; the agent warns at every start).")
    var insecureSkipVerify = false

    /// Seconds between the timeout's SIGTERM and SIGKILL.
    @Option(help: .hidden)
    var killGrace: Double = 10

    /// One kept connection for the polls and one for the reports (the default);
    /// --no-keep-alive: a new connection per request (diagnosis only; see Agent.run).
    @Flag(inversion: .prefixedNo, help: .hidden)
    var keepAlive = true

    func validate() throws {
        guard commandTimeout > 0, commandTimeout <= 7 * 86400 else { throw ValidationError("--command-timeout must be more than 0 and at most 604800 seconds") }
        guard killGrace >= 0, killGrace <= 3600 else { throw ValidationError("--kill-grace must be 0...3600 seconds") }
        guard !stackId.isEmpty else { throw ValidationError("--stack-id must not be empty") }
        if let hostname, hostname.isEmpty { throw ValidationError("--hostname must not be empty") }
        if let caFile, access(caFile, R_OK) != 0 { throw ValidationError("--ca-file \(caFile): cannot read it") }
        var st = stat()
        guard stat(hooks, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw ValidationError("--hooks \(hooks) is not a folder") }
    }

    func run() throws {
        var environment: [String: String] = [:]
        var inherited: [String] = []
        var e = environ
        while let p = e.pointee {
            let entry = String(cString: p)
            if let eq = entry.firstIndex(of: "=") {
                let name = String(entry[..<eq])
                environment[name] = String(entry[entry.index(after: eq)...])
                // The hooks do not get the agent's credentials, nor OWD_* from outside.
                if !["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"].contains(name)
                    && !name.hasPrefix("OWD_") {
                    inherited.append(entry)
                }
            }
            e += 1
        }
        let url: OwdAgent.Endpoint
        let credentials: AgentCredentials
        do {
            url = try OwdAgent.Endpoint(endpoint)
            credentials = try AgentCredentials.resolve(environment)
        } catch let f as AgentFailure {
            printError(f.description)
            Glibc.exit(1)
        } catch let f as AgentCredentials.Failure {
            printError(f.description)
            Glibc.exit(1)
        }
        var name = hostname
        if name == nil {
            var buffer = [CChar](repeating: 0, count: 256)
            name = gethostname(&buffer, buffer.count - 1) == 0 ? String(cString: buffer) : "localhost"
        }
        let signingRegion = region ?? [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]]
            .compactMap { $0 }.first { !$0.isEmpty } ?? "us-east-1"
        var options = Agent.Options(endpoint: url, stackID: stackId, hooks: hooks, stateDir: stateDir, hostname: name!,
                                    region: signingRegion, credentials: credentials, environment: inherited)
        options.commandTimeout = commandTimeout
        options.killGrace = killGrace
        options.caFile = caFile
        options.insecure = insecureSkipVerify
        options.keepAlive = keepAlive
        Glibc.exit(Agent(options).run())
    }
}

/// Seconds since an arbitrary start (CLOCK_MONOTONIC).
func monotonic() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// `value` with `places` decimals (no Foundation in the program).
func decimal(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let n = Int64((value * scale).rounded())
    if places == 0 { return "\(n)" }
    let whole = n / Int64(scale), frac = abs(n % Int64(scale))
    var f = "\(frac)"
    while f.count < places { f = "0" + f }
    return "\(n < 0 && whole == 0 ? "-" : "")\(whole).\(f)"
}

func printError(_ message: String) {
    let text = "owd: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

func openStore(_ path: String) -> Store {
    do {
        return try Store(path: path)
    } catch let e as OwdError {
        printError("cannot open store \(Store.displayName(path)): \(e.message)")
        Glibc.exit(1)
    } catch {
        printError("cannot open store \(Store.displayName(path)): \(error)")
        Glibc.exit(1)
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the store as the files `aws opsworks describe-*` prints.",
        discussion: """
        Writes DIR/stacks.json ({"Stacks": [...]}), layers.json, apps.json, instances.json, \
        user-profiles.json, permissions.json, deployments.json and commands.json, every record in \
        creation order, in AWS's describe shapes (behaviour.md section 16). Secrets are shown as \
        *****FILTERED***** (section 10) unless --with-secrets; the files are then created readable \
        by their owner only. DIR is created (mode 0700) when missing. Each file is written to \
        NAME.tmp and renamed: a failed export leaves no half-written file. Exit status: 0 done, \
        1 failed (the reason on stderr).
        """)

    @Option(help: "The store: a file (SQLite), or a postgresql:// URI (libpq's syntax).")
    var store: String

    @Argument(help: ArgumentHelp("The folder to write the files to.", valueName: "dir"))
    var dir: String

    @Flag(help: "Write secrets as stored (passwords, keys, secure environment values).")
    var withSecrets = false

    func run() throws {
        guard Store.isPostgres(store) || access(store, F_OK) == 0 else {
            printError("cannot open store \(store): no such file")
            Glibc.exit(1)
        }
        let opened = openStore(store)
        let started = monotonic()
        let mask = umask(withSecrets ? 0o077 : 0o022)
        defer { umask(mask) }
        do {
            var total = 0
            for (path, count) in try opened.export(to: dir, withSecrets: withSecrets) {
                print("owd: wrote \(path) (\(count) record\(count == 1 ? "" : "s"))")
                total += count
            }
            print("owd: exported \(total) records in \(decimal(monotonic() - started, 1)) s\(withSecrets ? " (with secrets)" : "")")
        } catch let e as OwdError {
            printError("export failed: \(e.message)")
            Glibc.exit(1)
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add the records of describe outputs (an export, or output saved from AWS) to the store.",
        discussion: """
        Each FILE is what an `aws opsworks describe-*` call printed ({"Stacks": [...]}, \
        {"Deployments": [...]}, ...) or what `owd export` wrote. Records keep their IDs, \
        timestamps, statuses and durations as written. A record already in the store and equal \
        is skipped; one that differs refuses the whole import. A record whose stack (or app, \
        layer, instance, deployment) is neither in the store nor in the files is refused. The \
        import is one transaction: all of it or none of it (behaviour.md section 16). Progress \
        goes to stderr: a bar with the rate and time left on a terminal, a line every few \
        seconds otherwise. Exit status: 0 done, 1 refused or failed (the reason, naming the \
        file and the record, on stderr; the store is unchanged).
        """)

    @Option(help: "The store: a file (SQLite), created when missing; or a postgresql:// URI (libpq's syntax: sslmode, PGPASSWORD and ~/.pgpass work), its tables created on first use.")
    var store: String

    @Argument(help: ArgumentHelp("The files to import.", valueName: "file"))
    var files: [String]

    @Flag(help: "No progress on stderr.")
    var quiet = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file to import") }
    }

    func run() throws {
        let opened = openStore(store)
        let meter = ProgressMeter(quiet: quiet)
        let started = monotonic()
        do {
            let summary = try opened.importFiles(files) { meter.update($0) }
            meter.finish()
            let seconds = monotonic() - started
            let records = summary.added + summary.skipped
            print("owd: imported \(summary.added) records (\(summary.skipped) already present and equal, skipped) from \(files.count) file\(files.count == 1 ? "" : "s") in \(decimal(seconds, 1)) s (\(decimal(seconds > 0 ? Double(records) / seconds : 0, 0)) records/s)")
        } catch let e as OwdError {
            meter.finish()
            printError("\(e.message)")
            printError("nothing was imported: the store is unchanged")
            Glibc.exit(1)
        }
    }
}

/// Import progress on stderr: on a terminal, a bar redrawn at most 10 times a second; else
/// a plain line every 5 seconds.
final class ProgressMeter {
    let terminal = isatty(2) == 1
    let quiet: Bool
    let started = monotonic()
    var last = 0.0
    var drawn = false

    init(quiet: Bool) { self.quiet = quiet }

    func update(_ p: TransferProgress) {
        guard !quiet else { return }
        let now = monotonic()
        let every = terminal ? 0.1 : 5.0
        guard now - last >= every || p.bytesDone == p.bytesTotal else { return }
        last = now
        let elapsed = max(now - started, 0.001)
        let fraction = p.bytesTotal > 0 ? Double(p.bytesDone) / Double(p.bytesTotal) : 1
        let rate = Double(p.records) / elapsed
        let left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        if terminal {
            let width = 30
            let filled = min(width, Int(fraction * Double(width)))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r[\(bar)] \(decimal(fraction * 100, 0))%  \(p.records) records  \(decimal(rate, 0))/s  \(clock(left)) left ")
            drawn = true
        } else {
            write("owd: import: \(decimal(fraction * 100, 0))% of \(bytes(p.bytesTotal)), \(p.records) records, \(decimal(rate, 0)) records/s, \(clock(left)) left\n")
        }
    }

    func finish() {
        if drawn { write("\n") }
        drawn = false
    }

    func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
    }

    func bytes(_ n: Int64) -> String {
        n >= 1 << 20 ? "\(decimal(Double(n) / 1_048_576, 1)) MB" : "\(n) bytes"
    }

    func write(_ text: String) { _ = text.withCString { Glibc.write(2, $0, strlen($0)) } }
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "The OpsWorks API model, for clients whose botocore dropped it (1.40.19 and later).",
        subcommands: [Install.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the OpsWorks model (documentation, waiters, paginators, owd's own operations).",
            discussion: "Writes DIR/opsworks/2013-02-18/{service-2,waiters-2,paginators-1}.json. botocore and the aws CLI read ~/.aws/models (the default) and every folder of AWS_DATA_PATH.")

        @Option(help: ArgumentHelp("The models folder (default: ~/.aws/models).", valueName: "dir"))
        var dir: String?

        func run() throws {
            var target = dir
            if target == nil {
                guard let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty else {
                    throw ValidationError("HOME is not set: give --dir")
                }
                target = home + "/.aws/models"
            }
            do {
                for path in try Model.install(into: target!) { print("owd: wrote \(path)") }
            } catch let e as Model.Failure {
                throw ValidationError(e.description)
            }
        }
    }
}

OwdCommand.main()
