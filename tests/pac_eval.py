"""Second PAC engine for the tests: PyPI pacparser (QuickJS).

Usage: python3 pac_eval.py FILE.pac < hosts
Prints, for each host on stdin, FindProxyForURL("https://HOST/", HOST).
"""
import sys

import pacparser


def main():
    pacparser.init()
    try:
        pacparser.parse_pac_file(sys.argv[1])
        for line in sys.stdin:
            host = line.strip()
            if host:
                print(pacparser.find_proxy("https://%s/" % host, host))
    finally:
        pacparser.cleanup()


if __name__ == "__main__":
    main()
