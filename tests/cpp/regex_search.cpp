// llama-quantize's rule matcher, alone: patterns lower-cased, std::regex (ECMAScript),
// std::regex_search, first matching rule wins (src/llama-quant.cpp, tools/quantize/quantize.cpp).
//
// stdin:  CASES, then per case: R, R pattern lines, N, N tensor-name lines.
// stdout: per case one line: for each name the index of the deciding rule, or -1;
//         a case whose pattern does not compile prints "E <rule index>".
#include <algorithm>
#include <cctype>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

static std::string next_line(std::istream & in) {
    std::string s;
    std::getline(in, s);
    return s;
}

int main() {
    std::ios::sync_with_stdio(false);
    const long n_cases = std::stol(next_line(std::cin));
    for (long c = 0; c < n_cases; ++c) {
        const long n_rules = std::stol(next_line(std::cin));
        std::vector<std::regex> rules;
        long bad = -1;
        for (long i = 0; i < n_rules; ++i) {
            std::string p = next_line(std::cin);
            std::transform(p.begin(), p.end(), p.begin(), tolower);
            try {
                rules.emplace_back(p);
            } catch (const std::regex_error &) {
                if (bad < 0) bad = i;
                rules.emplace_back("$^");
            }
        }
        const long n_names = std::stol(next_line(std::cin));
        std::string out;
        for (long j = 0; j < n_names; ++j) {
            const std::string name = next_line(std::cin);
            long hit = -1;
            for (long i = 0; i < n_rules; ++i) {
                if (std::regex_search(name, rules[i])) { hit = i; break; }
            }
            out += std::to_string(hit);
            out += ' ';
        }
        if (bad >= 0) std::cout << "E " << bad << '\n';
        else std::cout << out << '\n';
    }
    return 0;
}
