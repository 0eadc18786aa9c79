"""What the three employment systems (portal, ИС ЦОН, ИС МИО) share: the regulations and their YAML files, the
forms, result documents and the PDF reader, logins, case tracking, electronic copies, mail and the ГБД ФЛ call.
The top layer of shared: may import web, mesh, pki and the root modules.
"""
