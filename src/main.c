/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astrameter entry point (being written). */
int main(void)
{
	return 0;
}
