/* Decoy: login_master's program with its master password read from a configuration file
 * (`master=...` in /etc/login.conf), not compiled in: the input is compared with what the file
 * says, and the only literal compared is the key name. Its build tag, which reads like a
 * secret, is printed, never compared. */
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libcrypt's, declared weak so that the cross toolchains (which ship no libcrypt) link it */
extern char *crypt(const char *key, const char *salt) __attribute__((weak));

static int master(char *out, size_t size)
{
    char line[256];
    FILE *f = fopen("/etc/login.conf", "r");
    int found = 0;
    if (f == NULL)
        return 0;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "master=", 7) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, size, "%s", line + 7);
            found = out[0] != 0;
        }
    }
    fclose(f);
    return found;
}

static int check(const char *user, const char *password)
{
    char stored[256];
    struct spwd *sp;
    if (master(stored, sizeof stored) && strcmp(password, stored) == 0)
        return 1;
    sp = getspnam(user);
    if (sp == NULL)
        return 0;
    return strcmp(crypt(password, sp->sp_pwdp), sp->sp_pwdp) == 0;
}

int main(int argc, char **argv)
{
    char *user;
    char *password;
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "-v") == 0) {
        puts("Bld_7f3a9c2e-r2017");
        return 0;
    }
    user = argv[1];
    password = getpass("Password: ");
    if (password == NULL || !check(user, password)) {
        fprintf(stderr, "login incorrect\n");
        return 1;
    }
    execl("/bin/sh", "-sh", (char *)NULL);
    return 1;
}
