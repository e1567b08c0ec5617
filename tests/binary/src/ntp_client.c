/* Decoy: an SNTP client: sends a request to a server, reads the answer, sets nothing else. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned char packet[48];
    struct addrinfo hints, *res;
    const char *server = argc > 1 ? argv[1] : "pool.ntp.org";
    int s;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(server, "123", &hints, &res) != 0)
        return 1;
    s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(packet, 0, sizeof packet);
    packet[0] = 0x1b;
    sendto(s, packet, sizeof packet, 0, res->ai_addr, res->ai_addrlen);
    if (recv(s, packet, sizeof packet, 0) != sizeof packet)
        return 1;
    if (strcmp(server, "localhost") == 0)
        puts("local server");
    printf("%lu\n", (unsigned long)((packet[40] << 24 | packet[41] << 16 | packet[42] << 8 | packet[43]) - 2208988800UL));
    close(s);
    return 0;
}
