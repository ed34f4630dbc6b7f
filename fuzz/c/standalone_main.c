/* A main() for the C fuzz targets where libFuzzer is not available (gcc):
 *     cfuzz_X FILE...                 replay inputs (e.g. a libFuzzer crash artifact)
 *     cfuzz_X -runs=N [-seed=S] [-max_len=L]
 *                                     N pseudo-random inputs of 0..L bytes (default 2000,
 *                                     seed 1, 600 bytes)
 * A mismatch aborts inside the target (exit by SIGABRT, with the message on stderr); with
 * -runs the input that caused it (or a sanitizer report) is written to
 * ./cfuzz-crash-input, to replay. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;
static uint64_t rng(void)
{ /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const uint8_t *cur_buf;
static size_t cur_len;
static void save_input(void)
{
    FILE *f = fopen("cfuzz-crash-input", "wb");
    if (f) {
        fwrite(cur_buf, 1, cur_len, f);
        fclose(f);
        fprintf(stderr, "cfuzz: input (%zu bytes) written to ./cfuzz-crash-input\n", cur_len);
    }
}
static void on_signal(int sig)
{
    save_input();
    signal(sig, SIG_DFL);
    raise(sig);
}
/* the sanitizers' runtimes call this before exiting on a report */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static int replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    fprintf(stderr, "cfuzz: replayed %s (%zu bytes): ok\n", path, got);
    return 0;
}

int main(int argc, char **argv)
{
    long runs = -1, max_len = 600;
    unsigned long long seed = 1;
    int files = 0, bad = 0;
    for (int a = 1; a < argc; a++) {
        if (!strncmp(argv[a], "-runs=", 6))
            runs = atol(argv[a] + 6);
        else if (!strncmp(argv[a], "-seed=", 6))
            seed = strtoull(argv[a] + 6, NULL, 10);
        else if (!strncmp(argv[a], "-max_len=", 9))
            max_len = atol(argv[a] + 9);
        else if (argv[a][0] == '-') {
            fprintf(stderr, "cfuzz: unknown option %s\n", argv[a]);
            return 2;
        } else {
            files++;
            bad |= replay(argv[a]);
        }
    }
    if (files && runs < 0)
        return bad;
    if (runs < 0)
        runs = 2000;
    rng_state = seed;
    uint8_t *buf = malloc((size_t)max_len + 1);
    cur_buf = buf;
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(save_input);
    for (long r = 0; r < runs; r++) {
        /* lengths spread over 0..max_len, short ones more often */
        size_t n = (size_t)(rng() % (uint64_t)(max_len + 1));
        if (rng() & 1)
            n = n / 4;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rng();
        cur_len = n;
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
    printf("cfuzz: %ld inputs ok (seed %llu)\n", runs, seed);
    return bad;
}
