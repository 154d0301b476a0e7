#if canImport(Glibc)
import Glibc
#endif

func printError(_ message: String) {
    var text = Array((message.hasSuffix("\n") ? message : message + "\n").utf8)
    _ = text.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

func Foundation_exit(_ code: Int32) -> Never {
    exit(code)
}
