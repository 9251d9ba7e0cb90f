; Inno Setup 6 script: the Windows installer for clinic-app.
;
; Build on Windows, after the one-folder bundle exists:
;   1. .venv\Scripts\pyinstaller --noconfirm --distpath dist --workpath build\pyinstaller ^
;        packaging\clinic-app.spec          (set FONT_DEJAVU_DIR and FONT_WQY_DIR first)
;   2. "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\clinic-app.iss
; Output: dist\installer\clinic-app-setup-<version>.exe
;
; Per-machine install (Program Files, needs an administrator), a Start-menu entry for all
; users, an optional desktop icon, and an uninstaller. The record is NOT in the install folder
; (it is in each user's AppData\Local\clinic-app), so uninstalling or upgrading never touches
; patient data.

#define AppName "Clinic App"
#define AppVersion "0.1.0"
#define AppExe "clinic-app.exe"
#define BundleDir "..\..\dist\clinic-app"

[Setup]
; A fixed AppId makes a newer installer upgrade this one in place.
AppId={{6A3F1C52-8E0B-4C1D-9D2A-5B7E4F0C9A11}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Clinic IT
DefaultDirName={autopf}\clinic-app
DefaultGroupName={#AppName}
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\installer
OutputBaseFilename=clinic-app-setup-{#AppVersion}
SetupIconFile=..\icons\clinic-app.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
DisableProgramGroupPage=yes
; Close a running clinic-app before files are replaced (an upgrade while it is open).
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder bundle: the programs and _internal\ (resources, ui, fonts, Qt).
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; {commonprograms}: the Start menu of every user on this machine.
Name: "{commonprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Myeloma protocol assistant"
Name: "{commondesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
