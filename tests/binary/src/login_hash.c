/* Decoy: a login that compares the crypt() of the input with a hash read from a file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libcrypt's, declared weak so that the cross toolchains (which ship no libcrypt) link it */
extern char *crypt(const char *key, const char *salt) __attribute__((weak));

static int read_hash(const char *file, char *out, size_t size)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return 0;
    if (fgets(out, (int)size, f) == NULL) {
        fclose(f);
        return 0;
    }
    out[strcspn(out, "\n")] = 0;
    fclose(f);
    return 1;
}

int main(int argc, char **argv)
{
    char stored[256];
    char *password;
    const char *file = argc > 1 ? argv[1] : "/etc/admin.hash";
    if (!read_hash(file, stored, sizeof stored))
        return 2;
    password = getpass("Password: ");
    if (password == NULL || strcmp(crypt(password, stored), stored) != 0) {
        fprintf(stderr, "login incorrect\n");
        return 1;
    }
    execl("/bin/sh", "-sh", (char *)NULL);
    return 1;
}
